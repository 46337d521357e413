import type { Logger } from 'pino';
import type { TenantRef } from '../../registrar/index.ts';
import type { CallDirection, CallParty, CdrLeg, CdrHistoryItem, CdrRecord, HangupSide } from './call-events.ts';
import type { CallServiceOptions } from '../call-service-deps.ts';
import type { DialOutcome } from '../dial/index.ts';

/** What a call (normal or callback) knows about itself when it ends. */
export interface EndedCall {
  tenant: TenantRef;
  id: string;
  direction: CallDirection;
  caller: CallParty;
  callee: CallParty;
  dialplan: string | undefined;
  dialStrings: string[];
  legs: CdrLeg[];
  createdAt: number;
  ringingAt: number | undefined;
  answeredAt: number | undefined;
  history: CdrHistoryItem[];
}

export interface CallEnding {
  by: HangupSide;
  status: number;
  reason: string;
  outcome: DialOutcome;
  wasAnswered: boolean;
}

/** Emits call.ended and writes the CDR; a failing CDR sink is logged, never thrown into the SIP handler. */
export function recordCallEnd(call: EndedCall, end: CallEnding, opts: Pick<CallServiceOptions, 'emit' | 'cdrs'>, log: Pick<Logger, 'error'>): void {
  const { by, status, reason, outcome, wasAnswered } = end;
  const endedAt = Date.now();
  const cdr: CdrRecord = {
    tenantId: String(call.tenant.id), callId: call.id, direction: call.direction, caller: call.caller, callee: call.callee,
    dialplan: call.dialplan, dialStrings: call.dialStrings, legs: call.legs, createdAt: call.createdAt,
    ringingAt: call.ringingAt, answeredAt: call.answeredAt, endedAt,
    durationSeconds: wasAnswered && call.answeredAt ? Math.round((endedAt - call.answeredAt) / 1000) : 0,
    ringSeconds: Math.round(((call.answeredAt ?? endedAt) - call.createdAt) / 1000),
    outcome, hungUpBy: by, status: wasAnswered ? 200 : status, reason, history: call.history,
  };
  opts.emit({
    type: 'call.ended', tenantId: call.tenant.id, callId: call.id, at: endedAt, direction: call.direction,
    caller: call.caller, callee: call.callee, hungUpBy: by, status: cdr.status, reason,
  });
  try {
    const p = opts.cdrs.write(cdr);
    if (p && typeof (p as Promise<unknown>).catch === 'function') (p as Promise<unknown>).catch((err: unknown) => log.error({ err }, 'CDR write failed'));
  } catch (err) {
    log.error({ err }, 'CDR write failed');
  }
}
