import { readFile } from 'node:fs/promises';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { MetricsSources } from './metrics-sources.ts';

export interface SwitchMetrics {
  readonly registry: Registry;
  /** One finished dialplan execution: its time in the sandbox worker (s) and outcome. */
  observeSandboxExecution(seconds: number, outcome: 'completed' | 'failed'): void;
}

/** Buckets (s) around the sandbox's cost per execution: 0.1 ms warm to a second of CPU (the default limit). */
const SANDBOX_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/**
 * The switch's Prometheus metrics in their own registry (several switches in one process, as in
 * tests, never share one). Nearly everything is read from `sources` at scrape time, so the SIP
 * path pays no prom-client call per message; only sandbox executions are observed as they end
 * (one histogram update per dialplan run). Label sets are fixed lists: nothing a peer sends can
 * add a series.
 */
export function createSwitchMetrics(sources: MetricsSources): SwitchMetrics {
  const registry = new Registry();
  const registers = [registry];
  // process_* (memory, CPU, fds) and nodejs_* (event-loop lag, heap, GC) of the main process.
  collectDefaultMetrics({ register: registry });

  const traffic = sources.sipTraffic;
  new Counter({
    name: 'patchbay_sip_requests_total',
    help: 'SIP requests on the wire (retransmissions included), by direction and method',
    labelNames: ['direction', 'method'] as const,
    registers,
    collect() {
      this.reset();
      for (const direction of ['in', 'out'] as const) {
        const counts = traffic[direction].requests;
        traffic.methods.forEach((method, i) => this.inc({ direction, method }, counts[i] ?? 0));
      }
    },
  });
  new Counter({
    name: 'patchbay_sip_responses_total',
    help: 'SIP responses on the wire (retransmissions included), by direction and status class',
    labelNames: ['direction', 'class'] as const,
    registers,
    collect() {
      this.reset();
      for (const direction of ['in', 'out'] as const) {
        const counts = traffic[direction].responses;
        traffic.statusClasses.forEach((cls, i) => this.inc({ direction, class: cls }, counts[i] ?? 0));
      }
    },
  });
  new Gauge({
    name: 'patchbay_sip_transactions',
    help: 'Live SIP transactions, by kind (client, server)',
    labelNames: ['kind'] as const,
    registers,
    collect() {
      const tx = sources.transactions();
      this.set({ kind: 'client' }, tx.client);
      this.set({ kind: 'server' }, tx.server);
    },
  });
  new Gauge({
    name: 'patchbay_sip_dialogs',
    help: 'Live SIP dialogs of the B2BUA',
    registers,
    collect() {
      this.set(sources.dialogs());
    },
  });
  new Gauge({
    name: 'patchbay_calls',
    help: 'Live calls',
    registers,
    collect() {
      this.set(sources.calls().live);
    },
  });
  const callTotal = (name: string, help: string, pick: (c: ReturnType<MetricsSources['calls']>) => number): void => {
    new Counter({
      name,
      help,
      registers,
      collect() {
        this.reset();
        this.inc(pick(sources.calls()));
      },
    });
  };
  callTotal('patchbay_calls_started_total', 'Calls started since start', (c) => c.started);
  callTotal('patchbay_calls_answered_total', 'Calls answered since start', (c) => c.answered);
  callTotal('patchbay_calls_failed_total', 'Calls that ended unanswered with a failure status since start', (c) => c.failed);
  new Gauge({
    name: 'patchbay_registrations',
    help: 'Live registrar bindings',
    registers,
    collect() {
      this.set(sources.registrations());
    },
  });
  new Counter({
    name: 'patchbay_shed_total',
    help: '503s answered by admission control since start: new calls while the sandbox is saturated (calls), dialplan runs refused by the sandbox queue (sandbox), requests refused because the transaction table was full (transactions)',
    labelNames: ['reason'] as const,
    registers,
    collect() {
      this.reset();
      const shed = sources.shed();
      this.inc({ reason: 'calls' }, shed.calls);
      this.inc({ reason: 'sandbox' }, shed.sandbox);
      this.inc({ reason: 'transactions' }, shed.transactions);
    },
  });
  new Gauge({
    name: 'patchbay_bans',
    help: 'Sources banned now for failed authentication',
    registers,
    collect() {
      this.set(sources.bans());
    },
  });
  new Gauge({
    name: 'patchbay_sandbox_queued',
    help: 'Dialplan executions the sandbox worker has to run now (admission control queue)',
    registers,
    collect() {
      this.set(sources.sandboxQueued());
    },
  });
  new Gauge({
    name: 'patchbay_sandbox_worker_resident_memory_bytes',
    help: 'Resident memory of the sandbox worker process',
    registers,
    async collect() {
      this.reset();
      const pid = sources.sandboxWorkerPid();
      const rss = pid === undefined ? undefined : await residentBytes(pid);
      if (rss !== undefined) this.set(rss);
    },
  });
  const executions = new Histogram({
    name: 'patchbay_sandbox_execution_seconds',
    help: 'Time a dialplan execution ran (or waited to run) in the sandbox worker, waits for sys calls such as Dial excluded, by outcome',
    labelNames: ['outcome'] as const,
    buckets: SANDBOX_BUCKETS,
    registers,
  });
  new Gauge({
    name: 'patchbay_event_stream_clients',
    help: 'Connected WebSocket event-stream clients',
    registers,
    collect() {
      this.set(sources.eventStream().clients);
    },
  });
  new Counter({
    name: 'patchbay_event_stream_resyncs_total',
    help: 'Event-stream resyncs since start: a slow client overrun (overrun), a resume whose since was gone (stale_since)',
    labelNames: ['reason'] as const,
    registers,
    collect() {
      this.reset();
      const s = sources.eventStream();
      this.inc({ reason: 'overrun' }, s.resyncs);
      this.inc({ reason: 'stale_since' }, s.staleResumes);
    },
  });
  new Counter({
    name: 'patchbay_event_stream_slow_closes_total',
    help: 'Event-stream clients closed with 1013 after a second overrun',
    registers,
    collect() {
      this.reset();
      this.inc(sources.eventStream().slowCloses);
    },
  });

  // Both series exist from the start (a rate over a series that appears later misses its first run).
  executions.zero({ outcome: 'completed' });
  executions.zero({ outcome: 'failed' });
  // Labelled children made once: an observation looks nothing up by label.
  const completed = executions.labels({ outcome: 'completed' });
  const failed = executions.labels({ outcome: 'failed' });
  return {
    registry,
    observeSandboxExecution(seconds, outcome) {
      (outcome === 'completed' ? completed : failed).observe(seconds);
    },
  };
}

/** VmRSS of a process from /proc (Linux); undefined elsewhere or when it is gone. */
async function residentBytes(pid: number): Promise<number | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
    return kb === undefined ? undefined : Number(kb) * 1024;
  } catch {
    return undefined;
  }
}
