/**
 * What a test (or the sandbox micro-bench) hands the supervisor for one run: an INVITE as the
 * calls layer would describe it, and a dialplan compiled as the database would store it.
 */
import { compileDialplan } from '../compile.ts';
import type { DialplanRequest, RunDirection } from '../protocol.ts';

export interface InviteRequestOptions {
  callId: string;
  direction: RunDirection;
  /** The dialled user (Request-URI and To); default `100`. */
  callee?: string;
  /** The From user; default `alice`. */
  caller?: string;
  domain?: string;
  fromTag?: string;
  /** Where the INVITE came from; default 192.0.2.10:5060 over UDP. */
  source?: DialplanRequest['source'];
  /** The authenticated account, when the run should have one. */
  account?: DialplanRequest['account'];
}

/** An INVITE from `caller` to `callee`, both at `domain`, with no headers and no body. */
export function inviteRequest(options: InviteRequestOptions): DialplanRequest {
  const domain = options.domain ?? 'acme.example';
  const uri = (user: string) => ({ user, host: domain, params: {}, raw: `sip:${user}@${domain}` });
  const callee = options.callee ?? '100';
  return {
    method: 'INVITE',
    uri: uri(callee),
    from: { uri: uri(options.caller ?? 'alice'), tag: options.fromTag ?? 'f1' },
    to: { uri: uri(callee) },
    callId: options.callId,
    headers: {},
    body: '',
    source: options.source ?? { address: '192.0.2.10', port: 5060, transport: 'udp' },
    ...(options.account && { account: options.account }),
    direction: options.direction,
  };
}

/** `source` compiled as TypeScript; a source that does not compile throws with the compiler's errors. */
export async function compiledDialplan(source: string): Promise<{ js: string; sourceMap: string }> {
  const result = await compileDialplan(source, 'ts');
  if (!result.ok) throw new Error(`dialplan does not compile: ${JSON.stringify(result.errors)}`);
  return { js: result.js, sourceMap: result.sourceMap };
}
