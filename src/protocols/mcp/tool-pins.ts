import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { AuditEventInput } from '../../core/audit-event.js';
import type { Clock } from '../../core/clock.js';
import type { Store } from '../../store/store.js';
import { canonicalJson } from './canonical-json.js';

/** A tool as a server lists it: the fields pinned, and whatever else it sent (relayed as is). */
export interface ListedTool {
  readonly name: string;
  readonly description?: string;
  readonly inputSchema?: unknown;
  readonly [field: string]: unknown;
}

interface PinTable {
  resource: string;
  tool: string;
  /** Fingerprint of the accepted definition. */
  fingerprint: string;
  /** A different definition seen since, waiting for an approver; null when none. */
  pending_fingerprint: string | null;
  pending_definition: string | null;
  first_seen: number;
  changed_at: number | null;
  accepted_by: string | null;
  accepted_at: number | null;
}

interface PinSchema {
  mcp_tool_pins: PinTable;
}

/** What the gateway knows of one tool. */
export type PinState = 'pinned' | 'changed';

/** A pending definition change, as approvers see it. */
export interface PendingChange {
  readonly resource: string;
  readonly tool: string;
  readonly fingerprint: string;
  readonly pendingFingerprint: string;
  readonly pendingDefinition: string;
  readonly changedAt: number;
}

/** sha256 over the canonical JSON of name, description and input schema: what a caller's model is told of the tool. */
export function toolFingerprint(tool: ListedTool): string {
  const pinned = { name: tool.name, description: tool.description ?? null, inputSchema: tool.inputSchema ?? null };
  return createHash('sha256').update(canonicalJson(pinned)).digest('hex');
}

/**
 * Tool definition pinning against "rug pulls": the first definition seen of a tool is pinned in the store; a tool
 * whose definition differs later is hidden from lists and its calls refused until an approver accepts the new one
 * (`acceptChange`). Changes and acceptances are recorded in the audit log. The table is the protocol's own
 * (tool-pins-migration.ts), registered with the store at composition so the store need not know about MCP.
 */
export class ToolPins {
  private readonly db: Kysely<PinSchema>;
  /** resource -> tool -> the fingerprint listed last and whether it is the accepted one. */
  private readonly known = new Map<string, Map<string, { fingerprint: string; state: PinState }>>();

  constructor(
    store: Pick<Store, 'kysely'>,
    /** Makes an audit event durable: the gateway's recorder, or the store itself from the CLI. */
    private readonly record: (event: AuditEventInput) => Promise<unknown>,
    private readonly clock: Clock,
  ) {
    this.db = store.kysely as unknown as Kysely<PinSchema>;
  }

  /**
   * Checks a listing against the pins: new tools are pinned, changed ones flagged (and recorded on `sessionId`).
   * Returns the tools that may be shown: those whose definition is the accepted one.
   */
  async check(resource: string, tools: readonly ListedTool[], sessionId: string): Promise<ListedTool[]> {
    const rows = await this.db.selectFrom('mcp_tool_pins').selectAll().where('resource', '=', resource).execute();
    const pinned = new Map(rows.map((row) => [row.tool, row]));
    const states = new Map<string, { fingerprint: string; state: PinState }>();
    const visible: ListedTool[] = [];
    const now = this.clock.now();
    for (const tool of tools) {
      const fingerprint = toolFingerprint(tool);
      const row = pinned.get(tool.name);
      if (row === undefined) {
        await this.db
          .insertInto('mcp_tool_pins')
          .values({
            resource,
            tool: tool.name,
            fingerprint,
            pending_fingerprint: null,
            pending_definition: null,
            first_seen: now,
            changed_at: null,
            accepted_by: null,
            accepted_at: null,
          })
          .onConflict((oc) => oc.columns(['resource', 'tool']).doNothing())
          .execute();
        states.set(tool.name, { fingerprint, state: 'pinned' });
        visible.push(tool);
        continue;
      }
      if (row.fingerprint === fingerprint) {
        states.set(tool.name, { fingerprint, state: 'pinned' });
        visible.push(tool);
        continue;
      }
      states.set(tool.name, { fingerprint, state: 'changed' });
      if (row.pending_fingerprint !== fingerprint) {
        await this.db
          .updateTable('mcp_tool_pins')
          .set({ pending_fingerprint: fingerprint, pending_definition: canonicalJson(tool), changed_at: now })
          .where('resource', '=', resource)
          .where('tool', '=', tool.name)
          .execute();
        await this.record({
          sessionId,
          type: 'review',
          at: now,
          payload: {
            event: 'tool-definition-changed',
            kind: 'mcp-tool',
            resource,
            tool: tool.name,
            pinnedFingerprint: row.fingerprint,
            fingerprint,
            description: clip(tool.description),
          },
        });
      }
    }
    this.known.set(resource, states);
    return visible;
  }

  /** The state of a tool as last listed; undefined when it was not in the last listing (or none was made). */
  stateOf(resource: string, tool: string): PinState | undefined {
    return this.known.get(resource)?.get(tool)?.state;
  }

  /** Whether the resource's tools were listed (and checked) since the gateway started. */
  listed(resource: string): boolean {
    return this.known.has(resource);
  }

  async pending(resource?: string): Promise<PendingChange[]> {
    let query = this.db.selectFrom('mcp_tool_pins').selectAll().where('pending_fingerprint', 'is not', null);
    if (resource !== undefined) query = query.where('resource', '=', resource);
    const rows = await query.execute();
    return rows.map((row) => ({
      resource: row.resource,
      tool: row.tool,
      fingerprint: row.fingerprint,
      pendingFingerprint: row.pending_fingerprint as string,
      pendingDefinition: row.pending_definition as string,
      changedAt: Number(row.changed_at),
    }));
  }

  /**
   * An approver accepts the pending definition of a tool (only the one with this fingerprint, so a definition
   * changed again after they looked is not accepted unseen). Recorded under `sessionId`.
   */
  async acceptChange(resource: string, tool: string, fingerprint: string, by: string, sessionId: string) {
    const now = this.clock.now();
    const updated = await this.db
      .updateTable('mcp_tool_pins')
      .set({
        fingerprint,
        pending_fingerprint: null,
        pending_definition: null,
        accepted_by: by,
        accepted_at: now,
      })
      .where('resource', '=', resource)
      .where('tool', '=', tool)
      .where('pending_fingerprint', '=', fingerprint)
      .executeTakeFirst();
    if (Number(updated.numUpdatedRows) === 0) return false;
    await this.record({
      sessionId,
      type: 'review',
      at: now,
      payload: { event: 'tool-definition-accepted', kind: 'mcp-tool', resource, tool, fingerprint, acceptedBy: by },
    });
    const state = this.known.get(resource)?.get(tool);
    if (state?.fingerprint === fingerprint) state.state = 'pinned';
    return true;
  }
}

function clip(text: string | undefined): string | undefined {
  return text === undefined || text.length <= 512 ? text : `${text.slice(0, 512)}…`;
}
