import WebSocket from 'ws';

/** What one event-stream consumer saw while the load ran. */
export interface TraceWatch {
  /** sip.trace events received. */
  traces: number;
  /** Resync markers (the switch found the consumer too slow and dropped its backlog). */
  resyncs: number;
  /** Close code when the switch closed the stream (1013 = overrun twice), else undefined. */
  closedCode?: number;
}

/**
 * One `sip.trace` subscriber on the switch's event stream (issue 9: tracing must cost nothing
 * measurable when nobody watches — and the bench shows what it costs when someone does). It
 * reads every frame as a real consumer would, parsing each, and resolves once the snapshot
 * arrived, so the subscription is live before the load starts.
 */
export async function openTraceSubscriber(httpPort: number, token: string): Promise<{ stop(): Promise<TraceWatch> }> {
  const ws = new WebSocket(`ws://127.0.0.1:${httpPort}/api/v1/events?token=${encodeURIComponent(token)}&subscribe=sip.trace`);
  const seen: TraceWatch = { traces: 0, resyncs: 0 };
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no snapshot from the event stream in 10 s')), 10_000);
    ws.on('message', (data) => {
      const frame = JSON.parse(String(data)) as { type?: string };
      if (frame.type === 'snapshot') {
        clearTimeout(timer);
        resolve();
      } else if (frame.type === 'sip.trace') seen.traces++;
      else if (frame.type === 'resync') seen.resyncs++;
    });
    ws.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
  ws.on('close', (code) => {
    seen.closedCode = code;
  });
  return {
    async stop() {
      const closedByServer = seen.closedCode;
      if (ws.readyState === WebSocket.OPEN) {
        const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
        ws.close(1000);
        await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 2000))]);
      }
      ws.terminate();
      return { ...seen, closedCode: closedByServer };
    },
  };
}
