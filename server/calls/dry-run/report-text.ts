import type { DryRunReport, DryRunTimelineEntry } from './dry-run-types.ts';

function seconds(ms: number): string {
  return `+${(ms / 1000).toFixed(1)}s`;
}

function short(value: unknown): string {
  const text = JSON.stringify(value) ?? 'undefined';
  return text.length > 200 ? `${text.slice(0, 197)}...` : text;
}

function entryLines(e: DryRunTimelineEntry): string[] {
  switch (e.kind) {
    case 'log':
      return [`${seconds(e.at)}  log   ${e.message}`];
    case 'sys':
      return [`${seconds(e.at)}  sys   ${e.name}(${e.args.map(short).join(', ')}) → ${e.error !== undefined ? `error: ${e.error}` : short(e.result)}`];
    case 'dial': {
      const lines = [`${seconds(e.at)}  ${e.via.toLowerCase().padEnd(5)} "${e.dialString}" → ${e.status} ${e.reason} (${e.outcome})`];
      for (const leg of e.legs) {
        const when = leg.startedAt !== undefined ? ` from ${seconds(leg.startedAt)}` : '';
        const end = leg.answeredAt ?? leg.endedAt;
        const status = leg.status !== undefined ? ` ${leg.status}${leg.reason ? ` ${leg.reason}` : ''}` : '';
        lines.push(
          `         group ${leg.group + 1} leg ${leg.id} ${leg.destination}: ${leg.state}${status}${when}${end !== undefined ? ` to ${seconds(end)}` : ''}` +
            `${leg.rule !== undefined ? ` [rule ${leg.rule}]` : ' [default]'}${e.winner === leg.id ? '  ← won' : ''}`,
        );
      }
      return lines;
    }
  }
}

/** The report as lines of text (the CLI prints them; the UI exports the same shape). */
export function dryRunReportText(report: DryRunReport): string[] {
  const lines = report.timeline.flatMap(entryLines);
  if (report.error) {
    const at = report.error.line !== undefined ? ` (line ${report.error.line}${report.error.column !== undefined ? `, column ${report.error.column}` : ''})` : '';
    lines.push(`error: ${report.error.message}${at}`);
  }
  if (report.limit) lines.push(`limit hit: ${report.limit}`);
  const cpu = report.usage.cpuMs === null ? 'unknown' : `${report.usage.cpuMs.toFixed(1)} ms`;
  lines.push(`response: ${report.response.status} ${report.response.reason} (by ${report.response.by})`);
  lines.push(`cpu ${cpu}, wall ${report.usage.wallMs.toFixed(1)} ms, simulated ${(report.usage.simulatedMs / 1000).toFixed(1)} s`);
  return lines;
}
