import type { CallPolicy } from '../../db/index.ts';

export type DestinationVerdict =
  | { allowed: true }
  /** `rule` names what refused it, for the tenant's console: `denied prefix +882`, `allow-list only`. */
  | { allowed: false; rule: string };

/**
 * The prefix rules of a tenant's destination policy for one number. The longest matching prefix
 * decides between the lists, so a tenant can allow `+88234` inside the denied `+882` (or deny
 * one range inside an allowed one). `e164` undefined: the user is not a number.
 */
export function checkDestination(e164: string | undefined, policy: CallPolicy): DestinationVerdict {
  if (e164 === undefined) return policy.allowListOnly ? { allowed: false, rule: 'allow-list only: not a number' } : { allowed: true };
  const denied = longestPrefix(e164, policy.deniedPrefixes);
  const allowed = longestPrefix(e164, policy.allowedPrefixes);
  if (denied && (!allowed || denied.length >= allowed.length)) return { allowed: false, rule: `denied prefix ${denied}` };
  if (policy.allowListOnly && !allowed) return { allowed: false, rule: 'allow-list only: no allowed prefix matches' };
  return { allowed: true };
}

function longestPrefix(number: string, prefixes: readonly string[]): string | undefined {
  let best: string | undefined;
  for (const p of prefixes) if (number.startsWith(p) && (!best || p.length > best.length)) best = p;
  return best;
}
