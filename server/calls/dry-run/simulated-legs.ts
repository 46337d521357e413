import type { DialLeg, DialTarget, LegHandle, LegObserver, LegStarter } from '../dial/index.ts';
import type { DryRunLegAction, DryRunOutcomeRule } from './dry-run-types.ts';
import type { VirtualClock } from './virtual-clock.ts';

/** A leg as a person writes it in a rule and reads it in the timeline. */
export function destinationText(target: DialTarget): string {
  switch (target.kind) {
    case 'local': return `${target.user}@local`;
    case 'named': return `${target.user}@${target.host}`;
    case 'provider': return `${target.user}@${target.provider}`;
    case 'uri': return target.uri;
  }
}

/** `*` = any run of characters; everything else literal; whole string, case-insensitive. */
export function patternMatches(pattern: string, text: string): boolean {
  const source = pattern.split('*').map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*');
  return new RegExp(`^${source}$`, 'is').test(text);
}

export const DEFAULT_LEG_ACTION: DryRunLegAction = { action: 'fail', status: 480, reason: 'Temporarily Unavailable' };

/**
 * Plays each leg of a Dial from the dry run's rules on a virtual clock instead of sending an
 * INVITE. Every leg rings at once (a 180), then does what its rule says.
 */
export class SimulatedLegs implements LegStarter {
  /** Leg key → the rule pattern used (for the timeline). */
  readonly ruleOf = new Map<string, string | undefined>();

  constructor(
    private readonly clock: VirtualClock,
    private readonly rules: readonly DryRunOutcomeRule[],
    private readonly fallback: DryRunLegAction = DEFAULT_LEG_ACTION,
  ) {}

  start(leg: DialLeg, observer: LegObserver): LegHandle {
    const destination = destinationText(leg.target);
    const rule = this.rules.find((r) => patternMatches(r.pattern, destination));
    this.ruleOf.set(leg.key, rule?.pattern);
    const action: DryRunLegAction = rule ?? this.fallback;
    observer.ringing();
    if (action.action === 'no-answer') return { cancel() {} };
    const timer = this.clock.setTimer(Math.round((action.after ?? 0) * 1000), () => {
      switch (action.action) {
        case 'answer': observer.answered({}); break;
        case 'busy': observer.failed({ status: 486, reason: 'Busy Here' }); break;
        case 'fail': observer.failed({ status: action.status, reason: action.reason ?? defaultReason(action.status) }); break;
        case 'redirect': observer.failed({ status: 302, reason: 'Moved Temporarily', redirectTargets: [redirectUri(action.target)] }); break;
      }
    });
    return { cancel: () => timer.cancel() };
  }
}

/** A redirect target as a Contact: `1002` or `1002@local` names an own account. */
function redirectUri(target: string): string {
  if (/^sips?:/i.test(target)) return target;
  return target.includes('@') ? `sip:${target}` : `sip:${target}@local`;
}

const REASONS: Record<number, string> = {
  403: 'Forbidden', 404: 'Not Found', 408: 'Request Timeout', 480: 'Temporarily Unavailable', 486: 'Busy Here',
  487: 'Request Terminated', 488: 'Not Acceptable Here', 500: 'Server Internal Error', 503: 'Service Unavailable', 603: 'Decline',
};

function defaultReason(status: number): string {
  return REASONS[status] ?? 'Failed';
}
