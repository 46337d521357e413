import { afterAll, afterEach, beforeAll } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBaresip, type BaresipClient } from './harness/index.ts';
import { sineWav } from './fixtures/sine-wav.ts';
import { DOMAIN, PASSWORD, startSwitch, type Switch } from './calls-support.ts';

export interface BaresipCallsFixture {
  /** The switch of the test file (inside tests only). */
  readonly sw: Switch;
  /** A registered baresip for `user` playing a 1 kHz tone; stopped after each test. */
  phone(user: string, autoAnswer: boolean): Promise<BaresipClient>;
}

/** One switch per file with `users`, a tone file, and phones stopped (by PID) after every test. */
export function useBaresipCalls(users: string[]): BaresipCallsFixture {
  let sw: Switch | undefined;
  let fixtures: string | undefined;
  let toneFile = '';
  const phones: BaresipClient[] = [];
  beforeAll(async () => {
    sw = await startSwitch(users);
    fixtures = await mkdtemp(join(tmpdir(), 'patchbay-calls-audio-'));
    toneFile = join(fixtures, 'tone-1k-8khz.wav');
    await writeFile(toneFile, sineWav({ hz: 1000, sampleRate: 8000, seconds: 20 }));
  }, 60_000);
  afterAll(async () => {
    await sw?.close();
    if (fixtures) await rm(fixtures, { recursive: true, force: true });
  });
  afterEach(async () => {
    await Promise.all(phones.splice(0).map((p) => p.stop()));
  });
  return {
    get sw() {
      if (!sw) throw new Error('the switch is not started (use it inside a test)');
      return sw;
    },
    async phone(user, autoAnswer) {
      const p = await startBaresip({ user, password: PASSWORD, domain: DOMAIN, proxy: this.sw.target, autoAnswer });
      phones.push(p);
      await p.waitFor(/registered successfully/i, 15_000);
      // The harness's ausine source only runs at 48 kHz; G.711 needs 8 kHz: play a generated WAV instead.
      const mark = p.output.length;
      p.send('/insmod aufile');
      p.send(`/ausrc aufile,${toneFile}`);
      await p.waitFor(/aufile/, 5_000, mark);
      return p;
    },
  };
}

/** Sends `/callstat` and reads the first `audio=<tx>/<rx> (bit/s)` status line (baresip's stream_print) with both rates above zero. */
export async function bitRates(p: BaresipClient): Promise<[number, number]> {
  const mark = p.output.length;
  p.send('/callstat');
  await p.waitFor(/Call debug/, 5_000, mark);
  // The status line repeats; the first ones after the dump may still read 0/0 (no full second measured yet).
  const m = await p.waitFor(/audio=([1-9]\d*)\/([1-9]\d*) \(bit\/s\)/, 5_000, mark).catch((err: unknown) => {
    throw new Error(`${String(err)}\n${p.output.slice(mark)}`);
  });
  return [Number(m[1]), Number(m[2])];
}
