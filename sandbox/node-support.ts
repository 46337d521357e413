/**
 * Dialplans are untrusted code and V8 is the first wall around them, so in production the sandbox
 * runs only on a Node line whose V8 still gets security fixes. Node 20's ended in April 2026.
 */
export const MIN_SUPPORTED_NODE_MAJOR = 22;

export interface NodeSupportPolicy {
  /** Refuse dialplans on an unsupported Node (production default). */
  requireSupportedNode: boolean;
  /** Operator override (PATCHBAY_ALLOW_UNSUPPORTED_NODE=1), logged at start-up. */
  allowUnsupportedNode: boolean;
}

export type NodeSupportVerdict =
  | { kind: 'supported' }
  | { kind: 'tolerated'; message: string }
  | { kind: 'refused'; message: string };

export function nodeMajor(version: string): number {
  const match = /^v?(\d+)\./.exec(version);
  if (!match) throw new Error(`not a Node version: "${version}"`);
  return Number(match[1]);
}

export function checkNodeSupport(version: string, policy: NodeSupportPolicy): NodeSupportVerdict {
  if (nodeMajor(version) >= MIN_SUPPORTED_NODE_MAJOR) return { kind: 'supported' };
  const base = `Node ${version} gets no V8 security fixes; dialplans are untrusted code (use Node 24 LTS)`;
  if (!policy.requireSupportedNode) return { kind: 'tolerated', message: `${base}; allowed outside production` };
  if (policy.allowUnsupportedNode) return { kind: 'tolerated', message: `${base}; allowed by PATCHBAY_ALLOW_UNSUPPORTED_NODE=1` };
  return {
    kind: 'refused',
    message: `${base}: dialplans are refused in production (set PATCHBAY_ALLOW_UNSUPPORTED_NODE=1 to run them anyway)`,
  };
}

/** Defaults from the environment for a supervisor that was given no explicit policy. */
export function nodeSupportPolicyFromEnv(env: NodeJS.ProcessEnv = process.env): NodeSupportPolicy {
  return {
    requireSupportedNode: flag(env, 'PATCHBAY_SANDBOX_REQUIRE_SUPPORTED_NODE') ?? env['NODE_ENV'] === 'production',
    allowUnsupportedNode: flag(env, 'PATCHBAY_ALLOW_UNSUPPORTED_NODE') ?? false,
  };
}

/** Same spellings as config/load-config.ts; anything else is an error, not a silent "no". */
function flag(env: NodeJS.ProcessEnv, name: string): boolean | undefined {
  const raw = env[name]?.trim().toLowerCase();
  if (raw === undefined || raw === '') return undefined;
  if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
  if (['0', 'false', 'no', 'off'].includes(raw)) return false;
  throw new Error(`${name}: expected true|false (or 1|0), got ${JSON.stringify(env[name])}`);
}
