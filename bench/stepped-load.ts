import { freePort, runSipp } from '../test/e2e/harness/index.ts';

export interface LoadStep {
  targetRate: number;
  attempted: number;
  successful: number;
  failed: number;
  retransmissions: number;
  achievedRate: number;
  responseTimesMs: number[];
  passed: boolean;
  note: string;
}

export interface SteppedLoadOptions {
  scenario: string;
  /** `host:port` of the server under test. */
  target: string;
  injectionFile: string;
  rates: number[];
  stepSeconds: number;
  /** sipp `-l`: most calls in flight at once. */
  maxConcurrent?: number;
  extraArgs?: string[];
  /** Seconds each call lasts by design (the scenario's pause); not counted against the achieved rate. */
  holdSeconds?: number;
}

/**
 * Runs the scenario at each rate in turn (after an unrecorded warm-up) and stops at the first step
 * that fails twice in a row: any failed call, or an achieved rate below 90 % of the target (the
 * server — or the single sipp — could not keep up).
 */
export async function runSteppedLoad(options: SteppedLoadOptions, log: (line: string) => void): Promise<LoadStep[]> {
  const steps: LoadStep[] = [];
  // A fresh server runs cold code (tsx, JIT) for its first seconds: warm it at half the first rate, unrecorded.
  const warmRate = Math.max(1, Math.floor((options.rates[0] ?? 100) / 2));
  const warm = await runStep(options, warmRate, 2);
  log(`  warm-up ${warmRate}/s x 2 s: ${warm.successful}/${warm.attempted} ok (not counted)`);
  for (const rate of options.rates) {
    let step = await runStep(options, rate, options.stepSeconds);
    logStep(step, log);
    if (!step.passed) {
      // Other work on this 2-core machine can stall one step; a failed step gets one more try.
      const retry = await runStep(options, rate, options.stepSeconds);
      retry.note = retry.passed ? 'passed on retry' : retry.note;
      logStep(retry, log, 'retry');
      step = retry;
    }
    steps.push(step);
    if (!step.passed) break;
  }
  return steps;
}

async function runStep(options: SteppedLoadOptions, rate: number, stepSeconds: number): Promise<LoadStep & { errors: string }> {
  const calls = rate * stepSeconds;
  const started = process.hrtime.bigint();
  const result = await runSipp({
    scenario: options.scenario,
    target: options.target,
    localPort: await freePort(),
    traceResponseTimes: true,
    timeoutMs: (stepSeconds + 20) * 1000,
    args: [
      '-inf', options.injectionFile,
      '-r', String(rate), '-rp', '1000',
      '-m', String(calls),
      '-l', String(options.maxConcurrent ?? Math.max(rate * 2, 200)),
      '-recv_timeout', '5000',
      '-max_socket', '1',
      ...(options.extraArgs ?? []),
    ],
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const successful = result.stats?.successful ?? 0;
  const failed = result.stats?.failed ?? 0;
  const achievedRate = successful / Math.max(seconds - (options.holdSeconds ?? 0), 1e-3);
  const reasons: string[] = [];
  if (result.code !== 0) reasons.push(`sipp exit ${result.code}${result.timedOut ? ' (timeout)' : ''}`);
  if (failed > 0) reasons.push(`${failed} failed`);
  if (successful < calls) reasons.push(`${successful}/${calls} completed`);
  if (achievedRate < rate * 0.9) reasons.push(`only ${achievedRate.toFixed(0)}/s achieved`);
  return {
    targetRate: rate,
    attempted: calls,
    successful,
    failed,
    retransmissions: result.stats?.retransmissions ?? 0,
    achievedRate,
    responseTimesMs: result.responseTimesMs,
    passed: reasons.length === 0,
    note: reasons.join(', '),
    errors: result.errors,
  };
}

function logStep(step: LoadStep & { errors: string }, log: (line: string) => void, label = ''): void {
  const { p50, p99 } = percentiles(step.responseTimesMs);
  log(
    `  ${label.padStart(5)} ${String(step.targetRate).padStart(6)}/s: ${step.successful}/${step.attempted} ok, ${step.failed} failed, ${step.retransmissions} retrans, ` +
      `${step.achievedRate.toFixed(0)}/s achieved, p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms` +
      (step.passed ? (step.note ? `  (${step.note})` : '') : `  -> ${label ? 'stop' : 'failed'} (${step.note})`),
  );
  if (!step.passed && step.errors) {
    const first = step.errors.split('\n').find((line) => line.includes('Aborting') || line.includes('Failed') || line.includes('timeout')) ?? step.errors;
    log(`    first sipp error: ${first.slice(0, 240)}`);
  }
}

export function percentiles(samples: number[]): { p50: number; p99: number } {
  if (samples.length === 0) return { p50: Number.NaN, p99: Number.NaN };
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (fraction: number): number => sorted[Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1)];
  return { p50: at(0.5), p99: at(0.99) };
}

/** The highest step that passed, or undefined when even the first failed. */
export function bestPassingStep(steps: LoadStep[]): LoadStep | undefined {
  return steps.filter((step) => step.passed).at(-1);
}

/**
 * The steps to try: `rates`, then on past the last one, each `factor` times the one before
 * (rounded to two significant digits), up to `cap`. The stepped load stops at the first failing
 * step, so a server is measured to its own maximum and not to the top of a list; `cap` only
 * bounds the time a server that never fails can take.
 */
export function extendRates(rates: number[], factor: number, cap: number): number[] {
  const out = [...rates];
  if (!(factor > 1)) return out;
  let last = out.at(-1) ?? 100;
  for (;;) {
    const raw = last * factor;
    const unit = 10 ** Math.max(0, Math.floor(Math.log10(raw)) - 1);
    const next = Math.max(last + 1, Math.round(raw / unit) * unit);
    if (next > cap) break;
    out.push(next);
    last = next;
  }
  return out;
}

/** True when every planned step passed: the figure is the cap, not the server's maximum. */
export function reachedCap(steps: LoadStep[], planned: number[]): boolean {
  return steps.length === planned.length && steps.every((step) => step.passed);
}
