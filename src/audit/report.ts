import { type AuditEvent, unfoldResult } from '../core/audit-event.js';
import { httpCollections, sqlTables } from './accessed-objects.js';

/** Who a session belongs to, from its `session.start` (or the sessions index when the start is before the window). */
export interface SessionOwner {
  readonly subject: string;
  readonly issuer: string;
  readonly protocol: string;
  readonly resource: string | null;
}

export interface AccessRow {
  readonly subject: string;
  readonly issuer: string;
  readonly resource: string;
  readonly protocol: string;
  readonly sessions: number;
  readonly operations: number;
  readonly allowed: number;
  readonly denied: number;
  readonly reviewed: number;
  readonly errors: number;
  /** Tables (PostgreSQL), collections (vector stores) or tools called (MCP), with how often each was reached. */
  readonly objects: Readonly<Record<string, number>>;
  readonly models: Readonly<Record<string, number>>;
  /** Masked values by type, from results' `masked` counts when masking reported them. */
  readonly masked: Readonly<Record<string, number>>;
  /** Values masked in requests before the backend saw them (prompts sent to models), by type: `maskedRequest`. */
  readonly maskedInRequests: Readonly<Record<string, number>>;
  readonly firstAt: number;
  readonly lastAt: number;
}

export interface NotableOperation {
  readonly at: number;
  readonly sessionId: string;
  readonly seq: number;
  readonly subject: string;
  readonly resource: string;
  readonly verdict: string;
  readonly text: string;
  readonly reason?: string;
  readonly rule?: string;
}

export interface AuditReport {
  readonly since: number;
  readonly until: number;
  readonly events: number;
  readonly access: readonly AccessRow[];
  /** Operations policy denied, newest last; at most `maxListed`. */
  readonly denied: readonly NotableOperation[];
  readonly reviewed: readonly NotableOperation[];
  readonly deniedTotal: number;
  readonly reviewedTotal: number;
}

interface MutableRow {
  subject: string;
  issuer: string;
  resource: string;
  protocol: string;
  sessions: Set<string>;
  operations: number;
  allowed: number;
  denied: number;
  reviewed: number;
  errors: number;
  objects: Record<string, number>;
  models: Record<string, number>;
  masked: Record<string, number>;
  maskedInRequests: Record<string, number>;
  firstAt: number;
  lastAt: number;
}

/**
 * Folds events (in id order) into "which identity reached which resource, what, how often; what was denied,
 * reviewed and masked". Streaming: the CLI feeds it page by page. `sqlTables` needs `loadSqlParser()` first.
 */
export class ReportBuilder {
  private readonly rows = new Map<string, MutableRow>();
  private readonly ops = new Map<string, { row: MutableRow }>();
  private readonly denied: NotableOperation[] = [];
  private readonly reviewed: NotableOperation[] = [];
  private deniedTotal = 0;
  private reviewedTotal = 0;
  private events = 0;

  constructor(
    private readonly since: number,
    private readonly until: number,
    private readonly owners: Map<string, SessionOwner>,
    private readonly maxListed = 200,
  ) {}

  /** Sessions whose start lies before the window: their owner must be looked up before `add`. */
  needsOwner(event: AuditEvent): boolean {
    return event.type !== 'session.start' && !this.owners.has(event.sessionId);
  }

  add(event: AuditEvent): void {
    if (event.at < this.since || event.at > this.until) return;
    this.events++;
    const p = event.payload;
    if (event.type === 'session.start') {
      this.owners.set(event.sessionId, {
        subject: String(p.subject),
        issuer: String(p.issuer),
        protocol: String(p.protocol),
        resource: typeof p.resource === 'string' ? p.resource : null,
      });
      return;
    }
    const owner = this.owners.get(event.sessionId);
    if (!owner) return;
    if (event.type === 'operation.result') this.result(event);
    else if (event.type === 'operation') {
      // An operation may carry its result (see `unfoldResult`).
      const [operation, result] = unfoldResult(event);
      this.operation(operation as AuditEvent, owner);
      if (result !== undefined) this.result(result);
    }
  }

  build(): AuditReport {
    const access = [...this.rows.values()]
      .map(({ sessions, ...row }) => ({ ...row, sessions: sessions.size }))
      .sort((a, b) => a.subject.localeCompare(b.subject) || a.resource.localeCompare(b.resource));
    return {
      since: this.since,
      until: this.until,
      events: this.events,
      access,
      denied: this.denied,
      reviewed: this.reviewed,
      deniedTotal: this.deniedTotal,
      reviewedTotal: this.reviewedTotal,
    };
  }

  private operation(event: AuditEvent, owner: SessionOwner): void {
    const p = event.payload;
    const resource = typeof p.resource === 'string' ? p.resource : (owner.resource ?? '-');
    const key = `${owner.issuer}\u0000${owner.subject}\u0000${resource}`;
    let row = this.rows.get(key);
    if (!row) {
      row = {
        subject: owner.subject,
        issuer: owner.issuer,
        resource,
        protocol: owner.protocol,
        sessions: new Set(),
        operations: 0,
        allowed: 0,
        denied: 0,
        reviewed: 0,
        errors: 0,
        objects: Object.create(null),
        models: Object.create(null),
        masked: Object.create(null),
        maskedInRequests: Object.create(null),
        firstAt: event.at,
        lastAt: event.at,
      };
      this.rows.set(key, row);
    }
    row.sessions.add(event.sessionId);
    row.operations++;
    row.lastAt = event.at;
    const text = typeof p.text === 'string' ? p.text : '';
    const objects =
      owner.protocol === 'postgres'
        ? sqlTables(text)
        : owner.protocol === 'mcp'
          ? // Tool calls per tool (what an MCP caller ran), not reads of resources or prompts.
            p.action === 'tools/call' && typeof p.target === 'string'
            ? [p.target]
            : []
          : httpCollections(text);
    for (const o of objects) row.objects[o] = (row.objects[o] ?? 0) + 1;
    if (typeof p.model === 'string') row.models[p.model] = (row.models[p.model] ?? 0) + 1;
    addMaskCounts(row.maskedInRequests, p.maskedRequest);
    this.ops.set(`${event.sessionId}#${String(p.seq)}`, { row });
    const notable: NotableOperation = {
      at: event.at,
      sessionId: event.sessionId,
      seq: Number(p.seq),
      subject: owner.subject,
      resource,
      verdict: String(p.verdict),
      text,
      ...(typeof p.reason === 'string' ? { reason: p.reason } : {}),
      ...(typeof p.rule === 'string' ? { rule: p.rule } : {}),
    };
    if (p.verdict === 'allow') row.allowed++;
    else if (p.verdict === 'review') {
      row.reviewed++;
      this.reviewedTotal++;
      if (this.reviewed.length < this.maxListed) this.reviewed.push(notable);
    } else {
      row.denied++;
      this.deniedTotal++;
      if (this.denied.length < this.maxListed) this.denied.push(notable);
    }
  }

  private result(event: AuditEvent): void {
    const p = event.payload;
    const op = this.ops.get(`${event.sessionId}#${String(p.seq)}`);
    if (!op) return;
    this.ops.delete(`${event.sessionId}#${String(p.seq)}`);
    if (p.outcome === 'error') op.row.errors++;
    addMaskCounts(op.row.masked, p.masked);
  }
}

/** Adds masking's counts, reported as a number or as { type: count }, to a row's table. */
function addMaskCounts(into: Record<string, number>, counts: unknown): void {
  if (typeof counts === 'number') into.total = (into.total ?? 0) + counts;
  else if (counts && typeof counts === 'object') {
    for (const [type, n] of Object.entries(counts)) {
      if (typeof n === 'number') into[type] = (into[type] ?? 0) + n;
    }
  }
}
