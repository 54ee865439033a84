import type { AuditReport, NotableOperation } from './report.js';
import { formatTimestamp, truncate } from './session-view.js';

/** The report as text: an access table, then what was denied and reviewed. Times in UTC. */
export function formatReport(report: AuditReport): string {
  const lines: string[] = [
    `Audit report ${formatTimestamp(report.since)} .. ${formatTimestamp(report.until)} UTC (${report.events} events)`,
    '',
    'ACCESS',
  ];
  if (report.access.length === 0) lines.push('  (no operations)');
  for (const row of report.access) {
    lines.push(
      `  ${row.subject} -> ${row.resource} (${row.protocol}): ${row.operations} operations in ${row.sessions} sessions, ` +
        `${row.allowed} allowed, ${row.denied} denied, ${row.reviewed} reviewed, ${row.errors} errors`,
    );
    const counts = (label: string, table: Readonly<Record<string, number>>) => {
      const entries = Object.entries(table).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
      if (entries.length > 0) lines.push(`      ${label}: ${entries.map(([k, n]) => `${k} (${n})`).join(', ')}`);
    };
    counts(row.protocol === 'postgres' ? 'tables' : row.protocol === 'mcp' ? 'tool calls' : 'collections', row.objects);
    counts('models', row.models);
    counts('masked', row.masked);
    counts('masked in requests', row.maskedInRequests);
  }
  const list = (title: string, total: number, ops: readonly NotableOperation[]) => {
    lines.push('', `${title} (${total})`);
    for (const op of ops) {
      lines.push(
        `  ${formatTimestamp(op.at)}  ${op.subject} -> ${op.resource}  ${op.sessionId.slice(0, 8)}#${op.seq}  ` +
          `${truncate(op.text, 60)}${op.rule ? `  [${op.rule}${op.reason ? `: ${op.reason}` : ''}]` : ''}`,
      );
    }
    if (total > ops.length) lines.push(`  ... and ${total - ops.length} more`);
  };
  list('DENIED', report.deniedTotal, report.denied);
  list('REVIEWED', report.reviewedTotal, report.reviewed);
  return `${lines.join('\n')}\n`;
}
