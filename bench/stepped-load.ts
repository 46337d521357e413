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
 * Runs the scenario at each rate in turn and stops at the first step with any failure, or whose
 * achieved rate falls below 90 % of the target (the server — or the single sipp — could not keep up).
 */
export async function runSteppedLoad(options: SteppedLoadOptions, log: (line: string) => void): Promise<LoadStep[]> {
  const steps: LoadStep[] = [];
  for (const rate of options.rates) {
    const calls = rate * options.stepSeconds;
    const started = process.hrtime.bigint();
    const result = await runSipp({
      scenario: options.scenario,
      target: options.target,
      localPort: await freePort(),
      traceResponseTimes: true,
      timeoutMs: (options.stepSeconds + 20) * 1000,
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
    const step: LoadStep = {
      targetRate: rate,
      attempted: calls,
      successful,
      failed,
      retransmissions: result.stats?.retransmissions ?? 0,
      achievedRate,
      responseTimesMs: result.responseTimesMs,
      passed: reasons.length === 0,
      note: reasons.join(', '),
    };
    steps.push(step);
    const { p50, p99 } = percentiles(step.responseTimesMs);
    log(
      `  ${String(rate).padStart(6)}/s: ${successful}/${calls} ok, ${failed} failed, ${step.retransmissions} retrans, ` +
        `${achievedRate.toFixed(0)}/s achieved, p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms` +
        (step.passed ? '' : `  -> stop (${step.note})`),
    );
    if (!step.passed) {
      if (result.errors) log(`    first sipp error: ${result.errors.split('\n').find((line) => line.includes('Aborting') || line.includes('Failed')) ?? result.errors.slice(0, 200)}`);
      break;
    }
  }
  return steps;
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
