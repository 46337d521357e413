import { describe, expect, it } from 'vitest';
import { MAX_REDIRECT_RERUNS, RedirectReruns } from './redirect-reruns.ts';

const redirected = (target: string) => ({ answered: false, redirect: { mode: 'new-dialplan', targets: [target] } });

describe('RedirectReruns', () => {
  it('owes one re-run per redirected Dial, with the first target as the Request-URI', () => {
    const r = new RedirectReruns();
    r.dialEnded(redirected('sip:+4930@example.com:5070'));
    expect(r.next()).toMatchObject({ target: 'sip:+4930@example.com:5070', uri: { user: '+4930', host: 'example.com', port: 5070 } });
    expect(r.next()).toBeUndefined();
    expect(r.count).toBe(1);
  });

  it('owes nothing when the last Dial answered, was redirected in another mode, or named no usable target', () => {
    const r = new RedirectReruns();
    r.dialEnded(redirected('sip:a@b'));
    r.dialEnded({ answered: true });
    expect(r.next()).toBeUndefined();
    r.dialEnded({ answered: false, redirect: { mode: 'manual', targets: ['sip:a@b'] } });
    expect(r.next()).toBeUndefined();
    r.dialEnded(redirected('not a uri'));
    expect(r.next()).toBeUndefined();
    expect(r.count).toBe(0);
  });

  it('stops a redirect loop after the limit', () => {
    const r = new RedirectReruns();
    for (let i = 0; i < MAX_REDIRECT_RERUNS; i++) {
      r.dialEnded(redirected('sip:loop@example.com'));
      expect(r.next()).toBeDefined();
    }
    r.dialEnded(redirected('sip:loop@example.com'));
    expect(r.next()).toBeUndefined();
  });
});
