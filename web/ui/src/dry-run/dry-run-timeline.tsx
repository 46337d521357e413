import type { DryRunReport, DryRunTimelineEntry } from '../api/index.ts';

const seconds = (ms: number): string => `+${(ms / 1000).toFixed(1)} s`;

function json(value: unknown): string {
  const text = JSON.stringify(value) ?? 'undefined';
  return text.length > 300 ? `${text.slice(0, 297)}…` : text;
}

const BY: Record<DryRunReport['response']['by'], string> = {
  answer: 'a leg answered',
  dialplan: 'sys.Respond',
  dial: 'the last Dial failed',
  default: 'the dialplan ended without an answer',
  error: 'the dialplan failed',
};

const LIMITS: Record<NonNullable<DryRunReport['limit']>, string> = {
  cpu: 'CPU time limit',
  memory: 'memory limit',
  'wall-clock': 'wall-clock limit',
  absolute: 'absolute time limit',
  concurrency: 'concurrent dialplans limit',
};

/** The result of one dry run: the caller's answer, the costs, then every step in order. */
export function DryRunTimeline({ report, onReveal }: { report: DryRunReport; onReveal(line: number, column: number): void }) {
  const ok = report.response.status >= 200 && report.response.status < 300;
  return (
    <div className="dry-run-result" aria-live="polite">
      <div className={`dry-run-response ${ok ? 'dry-run-response-ok' : 'dry-run-response-fail'}`} data-testid="dry-run-response">
        <span className="dry-run-status">{report.response.status}</span>
        <span>
          <strong>{report.response.reason}</strong>
          <span className="muted"> — the caller's answer ({BY[report.response.by]})</span>
        </span>
      </div>
      <p className="dry-run-usage muted" data-testid="dry-run-usage">
        CPU {report.usage.cpuMs === null ? 'unknown' : `${report.usage.cpuMs.toFixed(1)} ms`} · wall {report.usage.wallMs.toFixed(0)} ms ·
        simulated {(report.usage.simulatedMs / 1000).toFixed(1)} s
      </p>
      {report.limit && (
        <div className="banner banner-error" role="alert" data-testid="dry-run-limit">
          <span>Stopped: the {LIMITS[report.limit]} was hit.</span>
        </div>
      )}
      {report.error && (
        <div className="banner banner-error" role="alert" data-testid="dry-run-error">
          <span>
            {report.error.message}
            {report.error.line !== undefined && (
              <>
                {' '}at{' '}
                <button type="button" className="link-button" onClick={() => onReveal(report.error!.line!, report.error!.column ?? 1)}>
                  line {report.error.line}
                  {report.error.column !== undefined && `, column ${report.error.column}`}
                </button>
              </>
            )}
          </span>
        </div>
      )}
      {report.timeline.length === 0 ? (
        <p className="muted">The dialplan called no sys function.</p>
      ) : (
        <ol className="timeline" data-testid="dry-run-timeline" aria-label="Timeline">
          {report.timeline.map((entry, i) => <TimelineItem key={i} entry={entry} />)}
        </ol>
      )}
    </div>
  );
}

function TimelineItem({ entry }: { entry: DryRunTimelineEntry }) {
  switch (entry.kind) {
    case 'log':
      return (
        <li className="timeline-item timeline-log" data-kind="log">
          <time>{seconds(entry.at)}</time>
          <span className="timeline-kind">log</span>
          <span className="timeline-text">{entry.message}</span>
        </li>
      );
    case 'sys':
      return (
        <li className="timeline-item timeline-sys" data-kind="sys">
          <time>{seconds(entry.at)}</time>
          <span className="timeline-kind">sys</span>
          <span className="timeline-text mono">
            {entry.name}({entry.args.map(json).join(', ')}){' '}
            {entry.error !== undefined ? <span className="timeline-error">✕ {entry.error}</span> : <>→ {json(entry.result)}</>}
          </span>
        </li>
      );
    case 'dial':
      return (
        <li className="timeline-item timeline-dial" data-kind="dial">
          <time>{seconds(entry.at)}</time>
          <span className="timeline-kind">{entry.via === 'Dial' ? 'dial' : 'callback'}</span>
          <div className="timeline-text">
            <p className="timeline-dial-head">
              <code className="mono">{entry.dialString}</code> → <strong>{entry.status} {entry.reason}</strong> <span className="muted">({entry.outcome}, until {seconds(entry.endedAt)})</span>
            </p>
            <div className="table-wrap">
              <table className="table table-compact" aria-label={`Legs of ${entry.dialString}`}>
                <thead>
                  <tr>
                    <th scope="col">Group</th>
                    <th scope="col">Leg</th>
                    <th scope="col">Destination</th>
                    <th scope="col">Rule</th>
                    <th scope="col">Result</th>
                    <th scope="col">Time</th>
                  </tr>
                </thead>
                <tbody>
                  {entry.legs.map((leg) => (
                    <tr key={leg.id} data-destination={leg.destination} className={entry.winner === leg.id ? 'leg-winner' : undefined}>
                      <td>{leg.group + 1}</td>
                      <td>{leg.id}</td>
                      <td className="mono">{leg.destination}</td>
                      <td className="mono">{leg.rule ?? <span className="muted">default</span>}</td>
                      <td data-testid="leg-result">
                        {leg.state}
                        {leg.status !== undefined && ` ${leg.status}`}
                        {leg.reason && leg.state !== 'answered' ? ` ${leg.reason}` : ''}
                        {entry.winner === leg.id && <span className="badge badge-ok">won</span>}
                      </td>
                      <td className="nowrap">
                        {leg.startedAt !== undefined ? seconds(leg.startedAt) : '—'}
                        {(leg.answeredAt ?? leg.endedAt) !== undefined && ` → ${seconds((leg.answeredAt ?? leg.endedAt)!)}`}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </div>
        </li>
      );
  }
}
