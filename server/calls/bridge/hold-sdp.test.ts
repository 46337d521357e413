import { describe, expect, it } from 'vitest';
import { holdSdp, unholdSdp, firstMediaDirection } from './hold-sdp.ts';

const sdp = (dir = 'a=sendrecv') => Buffer.from(['v=0', 'o=bob 10 20 IN IP4 192.0.2.7', 's=-', 'c=IN IP4 192.0.2.7', 't=0 0', 'm=audio 4000 RTP/AVP 0', 'a=rtpmap:0 PCMU/8000', dir, ''].join('\r\n'));

describe('hold SDP', () => {
  it('makes every stream sendonly and bumps the version', () => {
    const held = holdSdp(sdp(), 1).toString();
    expect(held).toContain('a=sendonly');
    expect(held).not.toContain('a=sendrecv');
    expect(held).toMatch(/^o=bob 10 21 IN IP4 192\.0\.2\.7/m);
    expect(held).toContain('c=IN IP4 192.0.2.7');
  });

  it('goes inactive where the party only received, and restores the direction with a newer version', () => {
    expect(firstMediaDirection(holdSdp(sdp('a=recvonly'), 1))).toBe('inactive');
    expect(firstMediaDirection(holdSdp(sdp('a=inactive'), 1))).toBe('inactive');
    const back = unholdSdp(sdp(), 2).toString();
    expect(back).toContain('a=sendrecv');
    expect(back).toMatch(/^o=bob 10 22 /m);
  });
});
