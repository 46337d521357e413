/**
 * Patchbay dialplan globals.
 *
 * A dialplan is the body of an async function: top-level `await` and `return` work,
 * `import`/`export` do not. Two globals exist: `req` (a plain copy of the request that
 * started the call) and `sys` (the switch). Nothing else of the host is reachable —
 * no `process`, `require`, timers, network or file system.
 *
 * Limits per execution: 32 MiB memory, 1 s CPU (time waiting in `sys.*` calls does not
 * count), 10 s wall clock before the first `Dial` (each finished `Dial` grants another
 * 10 s; the time a `Dial` is ringing does not count), 300 s in total, 20 `Dial` calls,
 * 3 `Callback` calls (plus the per-call caps on WebGet, ENUMLookup, DB* and Log documented on
 * each function). An uncaught throw fails the call with 500 and logs the line.
 */

/** A SIP URI, split into parts. */
interface SipUri {
  /** User part, e.g. `"1001"` in `sip:1001@example.com`. Empty if absent. */
  user: string;
  host: string;
  port?: number;
  /** URI parameters (`;transport=tcp` → `{ transport: "tcp" }`); flag parameters map to `""`. */
  params: Record<string, string>;
  /** The URI as received. */
  raw: string;
}

/** A From/To header value. */
interface NameAddr {
  displayName?: string;
  uri: SipUri;
  tag?: string;
}

/** The request that started this dialplan (a copy; changing it changes nothing on the wire). */
interface DialplanRequest {
  /** Usually `"INVITE"`. */
  method: string;
  /** Request-URI: `req.uri.user` is the dialled number. */
  uri: SipUri;
  from: NameAddr;
  to: NameAddr;
  callId: string;
  /** All headers by lower-case name; repeated headers keep every value in order. */
  headers: Record<string, string[]>;
  /** Message body (usually SDP), as text. */
  body: string;
  /** Where the request came from. */
  source: { address: string; port: number; transport: 'udp' | 'tcp' | 'tls' | 'ws' | 'wss' | string };
  /** The tenant SIP account that sent (outgoing) or receives (incoming) the call. */
  account?: { username: string; domain: string };
  /** `"out"`: placed by one of your accounts; `"in"`: arriving for one of your accounts or numbers. */
  direction: 'in' | 'out';
  /**
   * A call from one of your providers (recognised by the contact it registered, or a DID, and
   * the provider's source address): the provider's name. On such a call without an account of
   * its own, `req.account.username` is the provider's name too.
   */
  provider?: string;
  /** A call from a provider to one of your DIDs (`patchbay did add`): the number as stored, e.g. `"+4930123456"`. */
  did?: string;
  /**
   * Only in your `transfer` dialplan (run for a REFER on a leg with `tr=c`): `req.uri` is the
   * Refer-To target, `req.method` is `"REFER"` and `req.from` the party that sent it.
   */
  transfer?: {
    /** Refer-To as received, e.g. `"<sip:2002@example.com>"`. */
    referTo: string;
    /** Referred-By, if the phone sent one. */
    referredBy?: string;
    /** Id of the call being transferred (as in events and CDRs). */
    originalCallId: string;
    /** The party that sent the REFER; it leaves the call when the transfer completes. */
    referrer: string;
    /** The party that stays and is connected to whoever your `Dial` reaches. */
    transferee: string;
  };
}

/** What `sys.Dial` resolves to. A failed call is a result, never an exception. */
interface DialResult {
  /** True if a leg answered and was bridged to the caller. */
  answered: boolean;
  /** Final SIP status: 200 when answered, otherwise the best failure (e.g. 486, 480, 408, 487). */
  status: number;
  /** Reason phrase matching `status`. */
  reason: string;
  /** Short machine-readable outcome, e.g. `"answered"`, `"busy"`, `"no-answer"`, `"failed"`, `"cancelled"`, `"redirected"`. */
  outcome: string;
  /**
   * Set when the Dial ended with a 3xx that was not followed (outcome `"redirected"`): a leg with
   * `rm=m` or `rm=n`, or one without `rm` redirected to somewhere other than your own accounts.
   * `targets` are the Contact URIs of the 3xx (sip:/sips: only). Nothing has dialled them: with
   * `rm=m` it is up to your script, e.g. `await sys.Dial(\`<${r.redirect.targets[0]}>\`)`
   * (a `sip:` URI leg, so it may only reach public addresses).
   */
  redirect?: { status: number; reason: string; targets: string[] };
}

interface DialOptions {
  /** Seconds to ring before giving up on every leg (≤ 180). */
  ringTimeout?: number;
  /** Seconds after answer at which the call is hung up. */
  callDurationLimit?: number;
  /** Extra SIP headers for every leg (name → value); a header the switch owns (see `SetCustomSIPHeader`) rejects with an Error. */
  customHeaders?: Record<string, string>;
}

/** What `sys.Callback` resolves to. */
interface CallbackResult {
  /** True when both ends answered and were bridged. */
  answered: boolean;
  /** 200, or the failure of the leg that did not answer. */
  status: number;
  reason: string;
}

/** One registered contact of an account. */
interface Binding {
  contact: string;
  expires: number;
  userAgent?: string;
  source?: string;
}

/** One call currently up for this tenant. */
interface CurrentCall {
  callId: string;
  from: string;
  to: string;
  state: string;
  startedAt: string;
}

interface DialplanSys {
  /**
   * Places the call described by `dialString` and waits until it is answered (and
   * bridged) or every leg failed. Resolves with the result — a failed call does not throw.
   * At most 20 `Dial` calls per execution; the 21st rejects with an Error.
   *
   * Dial string: `|` separates sequential groups, `&` parallel legs inside a group; the
   * first answer cancels every other leg.
   * A leg is `user@local` (a SIP account of your tenant: its incoming dialplan runs, and
   * that dialplan's own `Dial` legs become this leg; without one, or when that account's
   * incoming dialplan already runs for this call, or 3 such dialplans are nested, all its
   * registrations ring), `user@<your domain>` (the same),
   * — a nested dialplan is its own execution with its own limits,
   * but its legs count against this call's 20 legs —
   * `number@<provider name>`, `<provider name>` (user = dialled user) or a `sip:` URI.
   * Every provider leg first passes your tenant's destination policy (denied prefixes such as
   * `+882`, call caps, maximum duration; `patchbay policy`): a refused leg fails with
   * `403 "Destination blocked by policy"`, nothing is sent and your console gets a line naming
   * the rule. `user@name` means your provider `name` when you have one, else your domain `name`.
   * Variables substituted first: `${dst}`, `${exten}`, `${dst:N}` (dst without its first
   * N characters), `${fromname}`, `${fromuriuser}`.
   * Per-leg options in `[key=value,...]` after the leg:
   *
   * | key | meaning |
   * |---|---|
   * | `dt=N` | start this leg N s late (≤ 120) |
   * | `cd=N` | hang up N s after answer |
   * | `tr=n\|p\|c` | transfers (REFER) from either party once this leg is answered: `n` (default) refused with 603; `p` passed to the other party as its own REFER (its NOTIFYs come back to the sender); `c` accepted (202) and decided by your dialplan named `transfer` — it runs with `req.uri` = the Refer-To target and `req.transfer` set, may `Respond` (refused) or `Dial`; on answer the staying party is connected to the new one and the referrer is hung up; on failure the call goes on as before. No `transfer` dialplan: 603 |
   * | `fd=`,`fu=`,`fh=` | From display name / user / host for this leg |
   * | `rm=n\|m\|f` | 3xx redirect on this leg (see below) |
   * | `ma=false` | do not rewrite private addresses in SDP |
   * | `ch=Name:Value` | custom header on this leg |
   *
   * 3xx redirects (`rm=`): by default a Contact naming one of your own accounts
   * (`user@<your domain>` or `user@local`) rings that account, as `user@local` would, whatever
   * host and port the Contact gives; any other Contact is treated as `rm=n`.
   * - `rm=f`: every Contact is dialled, like a `sip:` URI leg (explicit opt-in).
   * - `rm=m`: nothing is dialled; the result carries `redirect` for your script.
   * - `rm=n`: nothing is dialled; the result carries `redirect`, and if this was the script's last
   *   `Dial` and the script ends without the caller being answered or rejected, the same dialplan
   *   runs again with `req.uri` set to the first redirect target. At most 3 such re-runs per
   *   dialplan run for the call; after that the caller gets the 3xx status. In an account's
   *   incoming dialplan dialled from another dialplan (`user@local`), that incoming dialplan is
   *   the one re-run; the leg fails with the 3xx only once it ends without an answer.
   *
   * @example await sys.Dial("reception@local&1001@local[dt=10]|voicemail@vmprovider[tr=p]")
   */
  Dial(dialString: string, options?: DialOptions): Promise<DialResult>;

  /**
   * Writes a line to your console (fire-and-forget, cheap, in order with other calls). At most
   * 500 lines and 64 KiB per call: past that one "log limit reached" line, then nothing (no error).
   */
  Log(...message: unknown[]): void;

  /** Answers the caller with a final response instead of dialing, e.g. `Respond(486, "Busy Here")`. */
  Respond(code: number, reason: string, headers?: Record<string, string>): Promise<void>;

  /**
   * True if the account `user` (of `domain`, default your tenant's) has at least one registration.
   * Always false for a domain that is not your tenant's.
   */
  IsAvailable(user: string, domain?: string): Promise<boolean>;

  /** Registered contacts of the calling (outgoing) or called (incoming) account; `source` is `transport:address:port`. */
  GetBindings(): Promise<Binding[]>;

  /**
   * Sets the From header of the legs dialled next (per-leg `fd`/`fu`/`fh` options still win);
   * omitted parts keep their value. The host defaults to your tenant's domain.
   */
  SetFromHeader(displayName?: string, user?: string, host?: string): Promise<void>;

  /** Undoes `SetFromHeader`. */
  ClearFromHeader(): Promise<void>;

  /**
   * Adds (or replaces, names are case-insensitive) a header on the legs dialled next. Headers the
   * switch writes itself are refused with an Error: Via, From, To, Call-ID, CSeq, Contact, Route,
   * Record-Route, Max-Forwards, Content-Length, Content-Type (and auth, Refer-To, Require…).
   */
  SetCustomSIPHeader(name: string, value: string): Promise<void>;

  /** Removes a header added with `SetCustomSIPHeader`. */
  RemoveCustomSIPHeader(name: string): Promise<void>;

  /**
   * Reads a value from your tenant's key/value store (`null` if absent). DBRead, DBWrite, DBDelete
   * and DBGetKeys together: at most 200 per call, then they reject with an Error.
   */
  DBRead(key: string): Promise<string | null>;

  /**
   * Writes a value to your tenant's key/value store. Keys 1–64 characters, values ≤ 10,000; longer
   * ones reject with an Error. The store of a tenant holds at most 1,000 keys and 1 MiB of keys and
   * values (UTF-8) unless the operator set other bounds; a write past them rejects with an Error
   * ("… key/value store is full …") and writes nothing.
   */
  DBWrite(key: string, value: string): Promise<void>;

  /** Deletes a key from your tenant's key/value store. */
  DBDelete(key: string): Promise<void>;

  /** Lists the keys of your tenant's key/value store. */
  DBGetKeys(): Promise<string[]>;

  /**
   * A tenant secret set through the API (`PUT /api/v1/secrets/:name`), e.g. an API key for
   * WebGet, so it never sits in dialplan text; `null` if there is none by that name. Counts
   * against the same 200-per-call budget as the DB functions. Do not `sys.Log` it: the console
   * is readable by everyone who may watch the tenant's calls.
   */
  Secret(name: string): Promise<string | null>;

  /**
   * HTTP(S) GET; resolves with the body text (at most 8 KiB, at most 5 s or `timeoutMs`).
   * Loopback, private and link-local addresses are refused. Rejects with an Error whose
   * message starts with `WebGet:` on failure. At most 10 per call and 3 waiting at once; more
   * reject with an Error (`sys.WebGet refused: …`).
   */
  WebGet(url: string, timeoutMs?: number): Promise<string>;

  /**
   * ENUM (RFC 6116, `e164.arpa`) lookup: the SIP URI of the best `E2U+sip` record, `null` if
   * there is none. Rejects with an Error for something that is not an E.164 number or a DNS failure,
   * and past 10 lookups per call.
   * @example const uri = await sys.ENUMLookup("+442079460000"); if (uri) await sys.Dial(uri);
   */
  ENUMLookup(number: string): Promise<string | null>;

  /**
   * Calls `dest1`, and when it answers, calls `dest2` and bridges both (dial strings; local
   * accounts ring their registrations, no dialplan runs). `dest1` hears silence while `dest2`
   * rings (at most 30 s). Resolves once both are connected or the attempt failed; the call then
   * lives on by itself (own CDR and events). Time spent waiting here does not count against the
   * wall clock. At most 3 per execution; the 4th rejects with an Error.
   */
  Callback(dest1: string, dest2: string): Promise<CallbackResult>;

  /** Calls of your tenant that are up right now. */
  GetCurrentCalls(): Promise<CurrentCall[]>;

  /** SIP status of the last `Dial` that did not answer (0 after an answered one or before any). */
  readonly LastFailureStatus: number;
  /** Reason phrase matching `LastFailureStatus` (`""` if none). */
  readonly LastFailureReason: string;
  /** True when this dialplan runs for an incoming call. */
  readonly In: boolean;
  /** True when this dialplan runs for a call placed by one of your accounts. */
  readonly Out: boolean;
  /** The account's username (`""` when the call has no account). */
  readonly Username: string;
  /** Name of the running dialplan. */
  readonly DialPlanName: string;
}

/** The request that started this dialplan. */
declare var req: DialplanRequest;
/** The switch: dial, respond, log, store. Frozen. */
declare const sys: DialplanSys;
