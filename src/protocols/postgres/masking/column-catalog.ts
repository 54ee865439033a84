import pg from 'pg';
import type { PostgresResourceConfig } from '../../../config/schema.js';
import type { ColumnName } from '../../../masking/column-rules.js';
import { FIRST_NORMAL_OID, type TypeInfo } from './column-types.js';

/** How long a table's column names are trusted: a table dropped and re-created gets a new OID anyway. */
const TTL_MS = 5 * 60_000;

interface Entry {
  readonly at: number;
  readonly columns: ReadonlyMap<number, ColumnName>;
}

/**
 * Table and column names for RowDescription's table OIDs and attribute numbers, read from the backend's catalog
 * (`pg_attribute`) over a side connection with the resource's credential, once per table and cached for all
 * sessions of the resource. This is how a column rule such as `users.email` still applies to `SELECT email AS x`.
 * Also the names and categories of extension and user types (`pg_type`), so that content scanning knows which of
 * them it may skip (see column-types.ts): a type's OID is only assigned when its extension is created.
 */
export class ColumnCatalog {
  private readonly tables = new Map<number, Entry>();
  private readonly inflight = new Map<number, Promise<void>>();
  /** Extension and user types by OID (a type dropped and re-created gets a new OID: kept without expiry). */
  private readonly types = new Map<number, TypeInfo>();
  private readonly typesInflight = new Map<number, Promise<void>>();

  constructor(
    private readonly resource: PostgresResourceConfig,
    private readonly now: () => number = Date.now,
  ) {}

  /** The cached name of a column, or undefined when the table is not (yet) known or the column is an expression. */
  name(tableOid: number, attribute: number): ColumnName | undefined {
    return this.tables.get(tableOid)?.columns.get(attribute);
  }

  /**
   * A table's columns in the order a value of its row type lists them (by attribute number, dropped ones left out),
   * or undefined when the table is not (yet) known.
   */
  columns(tableOid: number): ColumnName[] | undefined {
    const columns = this.tables.get(tableOid)?.columns;
    if (columns === undefined) return undefined;
    return [...columns.entries()].sort((a, b) => a[0] - b[0]).map(([, name]) => name);
  }

  /** OIDs among these that must be looked up before their columns can be named. */
  missing(tableOids: Iterable<number>): number[] {
    const now = this.now();
    const out = new Set<number>();
    for (const oid of tableOids) {
      const entry = this.tables.get(oid);
      if (oid !== 0 && (entry === undefined || now - entry.at > TTL_MS)) out.add(oid);
    }
    return [...out];
  }

  /** What the catalog says of an extension or user type, or undefined when not (yet) known. */
  type(typeOid: number): TypeInfo | undefined {
    return this.types.get(typeOid);
  }

  /** Extension and user type OIDs among these that must be looked up before masking knows how to treat them. */
  missingTypes(typeOids: Iterable<number>): number[] {
    const out = new Set<number>();
    for (const oid of typeOids) if (oid >= FIRST_NORMAL_OID && !this.types.has(oid)) out.add(oid);
    return [...out];
  }

  /** Looks the types (and the elements of array types) up, shared with concurrent callers. */
  async loadTypes(typeOids: readonly number[]): Promise<void> {
    const waiting = typeOids.map((oid) => this.typesInflight.get(oid)).filter((p) => p !== undefined);
    const fresh = typeOids.filter((oid) => !this.typesInflight.has(oid));
    if (fresh.length > 0) {
      const query = this.queryTypes(fresh);
      for (const oid of fresh) this.typesInflight.set(oid, query);
      waiting.push(query);
      void query
        .finally(() => {
          for (const oid of fresh) this.typesInflight.delete(oid);
        })
        .catch(() => undefined);
    }
    await Promise.all(waiting);
  }

  /** Looks the tables up (one query for all, shared with concurrent callers). */
  async load(tableOids: readonly number[]): Promise<void> {
    const waiting = tableOids.map((oid) => this.inflight.get(oid)).filter((p) => p !== undefined);
    const fresh = tableOids.filter((oid) => !this.inflight.has(oid));
    if (fresh.length > 0) {
      const query = this.query(fresh);
      for (const oid of fresh) this.inflight.set(oid, query);
      waiting.push(query);
      void query
        .finally(() => {
          for (const oid of fresh) this.inflight.delete(oid);
        })
        .catch(() => undefined);
    }
    await Promise.all(waiting);
  }

  private async queryTypes(oids: readonly number[]): Promise<void> {
    const client = await this.connect();
    try {
      const result = await client.query<{
        oid: string;
        name: string;
        category: string;
        element: string;
        relation: string;
      }>(
        `SELECT t.oid::int8 AS oid, t.typname AS name, t.typcategory AS category, t.typelem::int8 AS element,
                t.typrelid::int8 AS relation
           FROM pg_catalog.pg_type t
          WHERE t.oid = ANY($1::oid[])
             OR t.oid IN (SELECT typelem FROM pg_catalog.pg_type WHERE oid = ANY($1::oid[]))`,
        [oids.map(String)],
      );
      for (const row of result.rows)
        this.types.set(Number(row.oid), {
          name: row.name,
          category: row.category,
          element: Number(row.element),
          relation: Number(row.relation),
        });
      // A type the catalog does not hold (dropped meanwhile) is remembered as unknown: scanned, never skipped.
      for (const oid of oids)
        if (!this.types.has(oid)) this.types.set(oid, { name: '', category: '', element: 0, relation: 0 });
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  private async connect(): Promise<pg.Client> {
    const target = this.resource.target;
    const client = new pg.Client({
      host: target.host,
      port: target.port,
      database: target.database,
      user: target.user,
      password: target.password,
      ssl: target.tls ? { rejectUnauthorized: true } : false,
      application_name: 'gatehouse-masking-catalog',
      connectionTimeoutMillis: 10_000,
    });
    await client.connect();
    return client;
  }

  private async query(oids: readonly number[]): Promise<void> {
    const client = await this.connect();
    try {
      const result = await client.query<{
        relid: number;
        attnum: number;
        schema: string;
        table: string;
        column: string;
      }>(
        `SELECT a.attrelid::int8 AS relid, a.attnum::int4 AS attnum, n.nspname AS schema, c.relname AS table,
                a.attname AS column
           FROM pg_catalog.pg_attribute a
           JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
           JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          WHERE a.attrelid = ANY($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped`,
        [oids.map(String)],
      );
      const byTable = new Map<number, Map<number, ColumnName>>();
      for (const oid of oids) byTable.set(oid, new Map());
      for (const row of result.rows) {
        byTable
          .get(Number(row.relid))
          ?.set(Number(row.attnum), { schema: row.schema, table: row.table, column: row.column });
      }
      const at = this.now();
      for (const [oid, columns] of byTable) this.tables.set(oid, { at, columns });
    } finally {
      await client.end().catch(() => undefined);
    }
  }
}

const catalogs = new WeakMap<PostgresResourceConfig, ColumnCatalog>();

/** The catalog shared by every session of a resource. */
export function columnCatalogFor(resource: PostgresResourceConfig): ColumnCatalog {
  let catalog = catalogs.get(resource);
  if (catalog === undefined) {
    catalog = new ColumnCatalog(resource);
    catalogs.set(resource, catalog);
  }
  return catalog;
}
