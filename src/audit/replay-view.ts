import type { HttpResponse, OperationEntry, SessionTimeline, SqlResponse, TimelineEntry } from './replay.js';
import { formatTimestamp } from './session-view.js';

/**
 * Plain-text replay of a session timeline: PostgreSQL statements with their result tables laid out as psql does,
 * HTTP requests with their responses (streamed completions shown as the text the caller saw accumulate).
 * One chunk per timeline entry, so `--real-time` can print each at its moment.
 */
export interface ReplayChunk {
  readonly offsetMs: number;
  readonly text: string;
}

export function renderReplay(timeline: SessionTimeline): ReplayChunk[] {
  const s = timeline.session;
  const head =
    `Session ${s.id}  ${s.protocol}${s.resource ? ` ${s.resource}` : ''}  ${s.subject}  ` +
    `started ${formatTimestamp(s.startedAt)} UTC\n`;
  return [{ offsetMs: 0, text: head }, ...timeline.entries.map((e) => ({ offsetMs: e.offsetMs, text: entry(e) }))];
}

export function renderReplayText(timeline: SessionTimeline): string {
  return renderReplay(timeline)
    .map((c) => c.text)
    .join('');
}

function stamp(offsetMs: number): string {
  return `[+${(offsetMs / 1000).toFixed(3)}s]`;
}

function entry(e: TimelineEntry): string {
  switch (e.type) {
    case 'connect':
      return `${stamp(e.offsetMs)} connect ${[
        e.subject,
        e.userName ? `as ${e.userName}` : '',
        e.clientAddress ? `from ${e.clientAddress}` : '',
        e.resource ? `to ${e.resource}` : '',
        e.groups.length ? `groups ${e.groups.join(',')}` : '',
      ]
        .filter(Boolean)
        .join(' ')}\n`;
    case 'disconnect':
      return `${stamp(e.offsetMs)} disconnect ${e.reason}\n`;
    case 'forensic-read':
      return `${stamp(e.offsetMs)} forensic copy read by ${e.reader} (${e.verdict})\n`;
    case 'operation':
      return operation(e);
  }
}

function operation(e: OperationEntry): string {
  const verdict = e.verdict.toUpperCase();
  const model = e.model ? ` model=${e.model}` : '';
  const rule = e.verdict !== 'allow' && e.rule ? ` (${e.rule}${e.reason ? `: ${e.reason}` : ''})` : '';
  const text = e.text.includes('\n') ? `\n${indent(e.text)}` : ` ${e.text}`;
  let out = `${stamp(e.offsetMs)} #${e.seq} ${e.kind} ${verdict}${rule}${model}${text}\n`;
  const r = e.result;
  if (!r) return `${out}  (no result recorded)\n`;
  const response = r.response;
  if (response?.type === 'sql') out += sqlResult(response);
  else if (response?.type === 'http') out += httpResult(response);
  const facts = [
    `${r.outcome}`,
    r.status !== undefined && response?.type !== 'http' ? `status ${r.status}` : '',
    r.rows !== undefined && response?.type !== 'sql' ? `${r.rows} rows` : '',
    r.durationMs !== undefined ? `${r.durationMs}ms` : '',
    r.error ? `error: ${r.error}` : '',
  ].filter(Boolean);
  return `${out}  -> ${facts.join(', ')}\n`;
}

function sqlResult(r: SqlResponse): string {
  let out = '';
  if (r.columns) out += formatPsqlTable(r.columns, r.rows);
  for (const tag of r.tags) out += `${tag}\n`;
  if (r.truncated) out += '[response cut at the capture limit]\n';
  return out;
}

function httpResult(r: HttpResponse): string {
  let out = `  <- ${r.status ?? '?'}${r.contentType ? ` ${r.contentType}` : ''}\n`;
  if (r.stream) {
    out += `  (stream: ${r.stream.events} events${r.stream.complete ? '' : ', incomplete'}${
      r.stream.finishReason ? `, finish ${r.stream.finishReason}` : ''
    })\n`;
    out += `${indent(r.stream.text)}\n`;
  } else if (r.body !== undefined && r.body.length > 0) {
    out += `${indent(r.body)}\n`;
  }
  if (r.truncated) out += '  [response cut at the capture limit]\n';
  return out;
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((line) => `    ${line}`.trimEnd())
    .join('\n');
}

const NUMERIC = /^-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/;

/**
 * psql's aligned format: centred headers, numbers right-aligned, text left-aligned, NULL as empty, `(n rows)` footer.
 * Hand-written: no installed package prints psql's layout, and it is a few lines.
 */
export function formatPsqlTable(columns: readonly string[], rows: readonly (readonly (string | null)[])[]): string {
  const widths = columns.map((c, i) => Math.max(c.length, ...rows.map((r) => (r[i] ?? '').length)));
  const numeric = columns.map((_, i) => rows.length > 0 && rows.every((r) => r[i] == null || NUMERIC.test(r[i]!)));
  const line = (cells: string[]) => ` ${cells.join(' | ')}`.trimEnd();
  const header = line(
    columns.map((c, i) => {
      const pad = widths[i]! - c.length;
      const left = Math.floor(pad / 2);
      return ' '.repeat(left) + c + ' '.repeat(pad - left);
    }),
  );
  const rule = widths.map((w) => '-'.repeat(w + 2)).join('+');
  const body = rows.map((r) =>
    line(
      columns.map((_, i) => {
        const v = r[i] ?? '';
        return numeric[i] ? v.padStart(widths[i]!) : v.padEnd(widths[i]!);
      }),
    ),
  );
  const footer = `(${rows.length} ${rows.length === 1 ? 'row' : 'rows'})`;
  return `${[header, rule, ...body, footer].join('\n')}\n`;
}
