import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { MAX_MESSAGE_SIZE, parseMessage } from './parser.ts';
import { SipParseError } from './parse-error.ts';
import { SipRequest, type SipMessage } from './message.ts';
import { createMutator, seedMessages } from './fuzz-mutator.ts';

/** Every failure the fuzz finds, with the input that caused it (hex) so it can be replayed. */
interface Finding {
  iteration: number;
  stage: string;
  error: string;
  input: string;
}

/** Runs `fn`; anything thrown that is not a SipParseError is a finding. */
function expectParseErrorOnly(fn: () => unknown): { ok: boolean; error?: unknown } {
  try {
    fn();
    return { ok: true };
  } catch (err) {
    if (err instanceof SipParseError) return { ok: true };
    return { ok: false, error: err };
  }
}

const GETTERS: Array<[string, (m: SipMessage) => unknown]> = [
  ['via', (m) => m.via],
  ['topVia', (m) => m.topVia],
  ['from', (m) => m.from],
  ['to', (m) => m.to],
  ['callId', (m) => m.callId],
  ['cseq', (m) => m.cseq],
  ['maxForwards', (m) => m.maxForwards],
  ['contacts', (m) => m.contacts],
  ['uri', (m) => (m instanceof SipRequest ? m.uri : undefined)],
];

/** Fresh copy with an empty cache, so the lazy getters really parse instead of returning primed values. */
function unprimed(m: SipMessage): SipMessage {
  return m.clone();
}

function checkMessage(m: SipMessage, record: (stage: string, err: unknown) => void): void {
  for (const target of [m, unprimed(m)]) {
    for (const [name, get] of GETTERS) {
      const r = expectParseErrorOnly(() => get(target));
      if (!r.ok) record(`getter ${name}`, r.error);
    }
  }
  let wire: Buffer;
  try {
    wire = m.toBuffer();
  } catch (err) {
    record('toBuffer', err);
    return;
  }
  // Escaping may grow a URI (`\\` → `%5C`), so a message near the limit can serialize past it.
  if (wire.length > MAX_MESSAGE_SIZE) return;
  let again: SipMessage;
  try {
    again = parseMessage(wire);
  } catch (err) {
    record('re-parse of toBuffer()', err);
    return;
  }
  if (again.constructor !== m.constructor) record('re-parse kind', new Error(`${m.constructor.name} became ${again.constructor.name}`));
  if (again.callId !== m.callId) record('re-parse Call-ID', new Error(`${m.callId} became ${again.callId}`));
  if (!again.body.equals(m.body)) record('re-parse body', new Error('body changed'));
  // Serialization must be a fixed point after one round.
  if (!again.toBuffer().equals(wire)) record('toBuffer fixed point', new Error('second serialization differs'));
}

const ITERATIONS = 20_000;

describe('parseMessage under fuzzed input', () => {
  it(`${ITERATIONS} mutated messages: a message or a SipParseError, never anything else`, () => {
    const seeds = seedMessages();
    expect(seeds.length).toBeGreaterThan(50);
    // FUZZ_SEED explores other sequences locally; CI runs the fixed one so failures reproduce.
    const mutate = createMutator(Number(process.env['FUZZ_SEED'] ?? 0x5eed_1234));
    const findings: Finding[] = [];
    let accepted = 0;
    let rejected = 0;
    for (let i = 0; i < ITERATIONS; i++) {
      const input = mutate.message(seeds);
      const record = (stage: string, err: unknown): void => {
        if (findings.length < 20) {
          findings.push({ iteration: i, stage, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err), input: `${input.length} bytes: ${input.subarray(0, 400).toString('hex')}` });
        }
      };
      let m: SipMessage;
      try {
        m = parseMessage(input);
      } catch (err) {
        if (err instanceof SipParseError) {
          rejected++;
          expect(err.status).toBeGreaterThanOrEqual(400);
        } else {
          record('parseMessage', err);
        }
        continue;
      }
      accepted++;
      checkMessage(m, record);
    }
    expect(findings).toEqual([]);
    // The corpus must exercise both paths, or the fuzz proves nothing.
    expect(accepted).toBeGreaterThan(ITERATIONS / 10);
    expect(rejected).toBeGreaterThan(ITERATIONS / 10);
  });

  it('every unmutated seed that parses also passes the getter and round-trip checks', () => {
    const errors: string[] = [];
    for (const seed of seedMessages()) {
      let m: SipMessage;
      try {
        m = parseMessage(seed);
      } catch (err) {
        if (!(err instanceof SipParseError)) errors.push(String(err));
        continue;
      }
      checkMessage(m, (stage, err) => errors.push(`${stage}: ${String(err)}`));
    }
    expect(errors).toEqual([]);
  });

  it('fixture files are all in the seed corpus', () => {
    const dir = fileURLToPath(new URL('./fixtures/rfc4475/', import.meta.url));
    const files = readdirSync(dir).filter((f) => f.endsWith('.sip'));
    const seeds = seedMessages();
    for (const f of files) expect(seeds.some((s) => s.equals(readFileSync(dir + f)))).toBe(true);
  });
});
