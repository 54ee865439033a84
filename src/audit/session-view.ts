import { type AuditEvent, type SessionSummary, unfoldResults } from '../core/audit-event.js';

/**
 * Plain-text views of recorded sessions for the CLI: a table of sessions, and one session's summary and timeline.
 * Pure functions over what the Store returns; times are shown in UTC so output does not depend on the machine.
 */

const TEXT_WIDTH = 80;

export function formatSessionList(sessions: readonly SessionSummary[]): string {
  if (sessions.length === 0) return 'no sessions\n';
  const header = ['ID', 'STARTED (UTC)', 'DURATION', 'PROTOCOL', 'RESOURCE', 'SUBJECT', 'OPS', 'DENIED'];
  const rows = sessions.map((s) => [
    s.id,
    formatTimestamp(s.startedAt),
    s.endedAt === null ? 'open' : formatDuration(s.endedAt - s.startedAt),
    s.protocol,
    s.resource ?? '-',
    s.subject,
    String(s.operations),
    String(s.denied),
  ]);
  return formatTable([header, ...rows]);
}

/** The summary block, a blank line, then one line per event. */
export function formatSessionDetail(summary: SessionSummary, events: readonly AuditEvent[]): string {
  const ended =
    summary.endedAt === null
      ? 'still open'
      : `${formatTimestamp(summary.endedAt)} UTC (after ${formatDuration(summary.endedAt - summary.startedAt)})`;
  const fields: [string, string][] = [
    ['Session', summary.id],
    ['Subject', summary.subject],
    ['Issuer', summary.issuer],
    ['Groups', summary.groups.length > 0 ? summary.groups.join(', ') : '-'],
    ['Protocol', summary.protocol],
    ['Resource', summary.resource ?? '-'],
    ['Started', `${formatTimestamp(summary.startedAt)} UTC`],
    ['Ended', ended],
    ['Operations', `${summary.operations} (${summary.denied} not allowed)`],
  ];
  const width = Math.max(...fields.map(([label]) => label.length)) + 2;
  const head = fields.map(([label, value]) => `${`${label}:`.padEnd(width)}${value}`).join('\n');
  const timeline = events.length === 0 ? '(no events)' : unfoldResults(events).map(formatTimelineLine).join('\n');
  return `${head}\n\n${timeline}\n`;
}

/** `HH:MM:SS.mmm  type  details`, the details depending on the event type. */
export function formatTimelineLine(event: AuditEvent): string {
  const describe = DESCRIBERS[event.type];
  const details = describe ? describe(event.payload) : '';
  return `${formatTimeOfDay(event.at)}  ${event.type.padEnd(16)}  ${details}`.trimEnd();
}

type Payload = Readonly<Record<string, unknown>>;

/** One describer per event type; unknown types print with no details. */
const DESCRIBERS: Readonly<Record<string, (payload: Payload) => string>> = Object.assign(Object.create(null), {
  'session.start': (p: Payload) =>
    words([
      str(p.subject),
      p.userName !== undefined ? `as ${str(p.userName)}` : '',
      p.clientAddress !== undefined ? `from ${str(p.clientAddress)}` : '',
      p.resource !== undefined ? `to ${str(p.resource)}` : '',
    ]),
  operation: (p: Payload) => {
    const tags = Array.isArray(p.tags) && p.tags.length > 0 ? `[${p.tags.map(String).join(',')}]` : '';
    const rule =
      p.rule !== undefined ? `(${str(p.rule)}${p.selector !== undefined ? `: ${str(p.selector)}` : ''})` : '';
    const what = typeof p.text === 'string' && p.text.length > 0 ? p.text : str(p.action);
    return words([seq(p.seq), str(p.kind), tags, str(p.verdict).toUpperCase(), rule, truncate(what, TEXT_WIDTH)]);
  },
  'operation.result': (p: Payload) =>
    words([
      seq(p.seq),
      str(p.outcome),
      p.status !== undefined ? `status=${str(p.status)}` : '',
      p.rows !== undefined ? `rows=${str(p.rows)}` : '',
      typeof p.bytesIn === 'number' ? `in=${formatBytes(p.bytesIn)}` : '',
      typeof p.bytesOut === 'number' ? `out=${formatBytes(p.bytesOut)}` : '',
      typeof p.durationMs === 'number' ? formatDuration(p.durationMs) : '',
      typeof p.error === 'string' ? `error: ${truncate(p.error, TEXT_WIDTH)}` : '',
    ]),
  'session.end': (p: Payload) => str(p.reason),
  'forensic.read': (p: Payload) => words([str(p.subject), str(p.verdict)]),
});

/** `2025-01-02 03:04:05` in UTC. */
export function formatTimestamp(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
}

/** `03:04:05.678` in UTC. */
function formatTimeOfDay(ms: number): string {
  return new Date(ms).toISOString().slice(11, 23);
}

/** `850ms`, `12.3s`, `4m05s`, `2h03m`, `3d04h`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '?';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.floor(ms / 1000);
  const pad = (n: number) => String(n).padStart(2, '0');
  if (s < 3600) return `${Math.floor(s / 60)}m${pad(s % 60)}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${pad(Math.floor((s % 3600) / 60))}m`;
  return `${Math.floor(s / 86_400)}d${pad(Math.floor((s % 86_400) / 3600))}h`;
}

/** `512B`, `1.5KiB`, `3.2MiB`. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes}B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)}KiB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)}MiB`;
  return `${(bytes / 1024 ** 3).toFixed(1)}GiB`;
}

/** One line, whitespace collapsed, at most `width` characters. */
export function truncate(text: string, width: number): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length <= width ? line : `${line.slice(0, width - 1)}…`;
}

function formatTable(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((r) => r[col]!.length)));
  return (
    rows
      .map((r) =>
        r
          .map((cell, col) => cell.padEnd(widths[col]!))
          .join('  ')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}

function str(value: unknown): string {
  if (value === undefined || value === null) return '';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function seq(value: unknown): string {
  return value === undefined ? '' : `#${str(value)}`;
}

function words(parts: readonly string[]): string {
  return parts.filter((p) => p.length > 0).join(' ');
}
