/**
 * Which calls each account is a party of, for the account's `maxCalls` limit: the calls it placed
 * and the calls ringing or bridged to it (a direct incoming call, or a Dial leg to `user@local`).
 * One call counts once per account however many of its legs ring that account. Check and take
 * happen in one synchronous step (`tryTake`) so two INVITEs racing each other cannot both get the
 * last slot.
 */
export class AccountCallCounter {
  /** account id → call id → how many holds the call has on the account. */
  private readonly holds = new Map<number, Map<string, number>>();
  /** call id → accounts it holds (so ending a call does not scan every account). */
  private readonly byCall = new Map<string, Set<number>>();

  /** Calls the account is a party of right now. */
  count(accountId: number): number {
    return this.holds.get(accountId)?.size ?? 0;
  }

  /**
   * Adds a hold of `callId` on the account unless that would make the account a party of more
   * than `limit` calls. A call that already holds the account always gets another hold.
   * `limit` null/undefined/0 = no limit.
   */
  tryTake(accountId: number, callId: string, limit: number | null | undefined): boolean {
    let calls = this.holds.get(accountId);
    const held = calls?.get(callId) ?? 0;
    if (held === 0 && limit && (calls?.size ?? 0) >= limit) return false;
    if (!calls) this.holds.set(accountId, (calls = new Map()));
    calls.set(callId, held + 1);
    let accounts = this.byCall.get(callId);
    if (!accounts) this.byCall.set(callId, (accounts = new Set()));
    accounts.add(accountId);
    return true;
  }

  /** Drops one hold (a leg to the account failed or was cancelled). */
  release(accountId: number, callId: string): void {
    const calls = this.holds.get(accountId);
    const held = calls?.get(callId);
    if (!calls || held === undefined) return;
    if (held > 1) {
      calls.set(callId, held - 1);
      return;
    }
    calls.delete(callId);
    if (calls.size === 0) this.holds.delete(accountId);
    const accounts = this.byCall.get(callId);
    accounts?.delete(accountId);
    if (accounts?.size === 0) this.byCall.delete(callId);
  }

  /** Drops every hold of an ended call. */
  releaseCall(callId: string): void {
    for (const accountId of this.byCall.get(callId) ?? []) {
      const calls = this.holds.get(accountId);
      calls?.delete(callId);
      if (calls?.size === 0) this.holds.delete(accountId);
    }
    this.byCall.delete(callId);
  }
}
