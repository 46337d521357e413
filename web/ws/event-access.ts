import { typeMatches, type PatchbayEventType } from '../../server/events/index.ts';
import type { WebRole } from '../../db/index.ts';

/**
 * What a role may see of its tenant's stream (issue 9, "Role filtering"):
 * operator and admin everything; receptionist calls, legs and extension states (no dialplan
 * logs, SIP traces or registrations, which carry phones' addresses); member the events of its
 * own accounts, without SIP traces (a trace shows the other party's messages too).
 */
const ROLE_TYPES: Record<WebRole, readonly string[]> = {
  operator: ['*'],
  admin: ['*'],
  receptionist: ['call.*', 'leg.*', 'extension.state'],
  member: ['call.*', 'leg.*', 'extension.state', 'registration.*', 'dialplan.log'],
};

/** Types only sent when named (costly to produce, noisy to show): never part of `*` or the default. */
const EXPLICIT_ONLY = new Set<string>(['sip.trace']);

export function roleMaySee(role: WebRole, type: PatchbayEventType | string): boolean {
  return ROLE_TYPES[role].some((p) => typeMatches(p, type));
}

/** Whether a role may see registrations in its snapshot. */
export function roleSeesRegistrations(role: WebRole): boolean {
  return roleMaySee(role, 'registration.added');
}

/** Whether a subscription's patterns take `type`; `sip.trace` only when named (`sip.trace` or `sip.*`). */
export function subscriptionTakes(patterns: readonly string[] | null, type: string): boolean {
  if (EXPLICIT_ONLY.has(type)) return patterns !== null && patterns.some((p) => p !== '*' && typeMatches(p, type));
  if (patterns === null) return true;
  return patterns.some((p) => typeMatches(p, type));
}
