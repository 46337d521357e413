import { createResponse, type SipRequest, type SipResponse } from './message.ts';

/**
 * Which INVITE transaction a dialog has in progress: none, ours (we sent a re-INVITE and await
 * its final response) or the peer's (it awaits ours). RFC 3261 allows at most one at a time.
 */
export type ReinviteGuardState = 'Idle' | 'Sending' | 'Receiving';

/** The only moves: a turn is taken from Idle and given back to Idle. */
export const REINVITE_GUARD_TRANSITIONS: Readonly<Record<ReinviteGuardState, readonly ReinviteGuardState[]>> = {
  Idle: ['Sending', 'Receiving'],
  Sending: ['Idle'],
  Receiving: ['Idle'],
};

/** How a re-INVITE the dialog cannot take now is answered (RFC 3261 §14.2). */
export type ReinviteRefusal =
  /** It crossed ours (glare): the peer retries after a random wait (§14.1). */
  | { status: 491 }
  /** A second one while the peer's first is unanswered: the peer retries after `retryAfterSec`. */
  | { status: 500; retryAfterSec: number };

/** One INVITE transaction holding the dialog; `end` (its final response) gives it back, once. */
export interface ReinviteTurn {
  end(): void;
}

export type ReinviteAdmission = { ok: true; turn: ReinviteTurn } | { ok: false; refusal: ReinviteRefusal };

/**
 * RFC 3261 §14.1/§14.2 for one dialog: a UAC must not send a re-INVITE while an INVITE
 * transaction is in progress on the dialog in either direction; a UAS answers a re-INVITE that
 * arrives while its own is pending with 491, and a second one while the peer's first is still
 * unanswered with 500 and a Retry-After of 0–10 s.
 */
export class ReinviteGuard {
  private current: ReinviteGuardState = 'Idle';
  /** Bumped per turn, so a late `end` of an earlier turn cannot free a later one. */
  private generation = 0;

  constructor(private readonly random: () => number = Math.random) {}

  get state(): ReinviteGuardState {
    return this.current;
  }

  /** True when our re-INVITE may go now (§14.1). */
  get canSend(): boolean {
    return this.current === 'Idle';
  }

  /** Takes the dialog for our re-INVITE; undefined when another INVITE is in progress (§14.1). */
  send(): ReinviteTurn | undefined {
    return this.canSend ? this.take('Sending') : undefined;
  }

  /** The peer's re-INVITE: the dialog is taken until our final response, or it is refused (§14.2). */
  receive(): ReinviteAdmission {
    const refusal = this.refusal();
    return refusal ? { ok: false, refusal } : { ok: true, turn: this.take('Receiving') };
  }

  /** What a re-INVITE arriving now would get instead of being taken; undefined if it would be taken. */
  refusal(): ReinviteRefusal | undefined {
    switch (this.current) {
      case 'Idle':
        return undefined;
      case 'Sending':
        return { status: 491 };
      case 'Receiving':
        return this.retryLater();
    }
  }

  /** The 500 of §14.2, for a re-INVITE that cannot be taken now for another reason (a B2BUA's other dialog is busy). */
  retryLater(): ReinviteRefusal {
    return { status: 500, retryAfterSec: Math.min(10, Math.floor(this.random() * 11)) };
  }

  private take(next: ReinviteGuardState): ReinviteTurn {
    this.moveTo(next);
    const mine = ++this.generation;
    let ended = false;
    return {
      end: () => {
        if (ended) return;
        ended = true;
        if (this.generation === mine && this.current === next) this.moveTo('Idle');
      },
    };
  }

  private moveTo(next: ReinviteGuardState): void {
    if (!REINVITE_GUARD_TRANSITIONS[this.current].includes(next)) throw new Error(`re-INVITE guard: ${this.current} → ${next} is not allowed`);
    this.current = next;
  }
}

/** The response that carries `refusal` for `req`. */
export function reinviteRefusalResponse(req: SipRequest, refusal: ReinviteRefusal): SipResponse {
  return refusal.status === 491
    ? createResponse(req, 491)
    : createResponse(req, 500, 'Previous INVITE pending', { headers: { 'Retry-After': String(refusal.retryAfterSec) } });
}
