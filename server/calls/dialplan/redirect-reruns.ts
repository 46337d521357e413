import { parseUri, type SipUri } from '../../sip/index.ts';

/** rm=n re-runs of one dialplan a call may make: a redirect loop ends with its 3xx. */
export const MAX_REDIRECT_RERUNS = 3;

/**
 * rm=n (and a 3xx not followed by default): when the last Dial of a dialplan run ended with such
 * a redirect and the script ended without an answer, the same dialplan runs again with `req.uri`
 * set to the redirect target. Shared by the caller's dialplan and a callee account's nested one.
 */
export class RedirectReruns {
  private target?: string;
  private made = 0;

  /** How the last Dial of the run ended decides whether a re-run is owed. */
  dialEnded(result: { answered: boolean; redirect?: { mode: string; targets: readonly string[] } }): void {
    this.target = !result.answered && result.redirect?.mode === 'new-dialplan' ? result.redirect.targets[0] : undefined;
  }

  get count(): number {
    return this.made;
  }

  /** The re-run owed now (its target, and as the Request-URI), counted; undefined when none is owed or the limit is reached. */
  next(): { target: string; uri: SipUri } | undefined {
    const target = this.target;
    this.target = undefined;
    if (!target || this.made >= MAX_REDIRECT_RERUNS) return undefined;
    let uri: SipUri;
    try {
      uri = parseUri(target);
    } catch {
      // A Contact we cannot parse is no target to run for: the 3xx stands.
      return undefined;
    }
    this.made++;
    return { target, uri };
  }
}
