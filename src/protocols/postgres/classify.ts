/**
 * SQL -> operation kind + risk tags, by walking the AST of the real PostgreSQL parser (libpg-query, PostgreSQL 18
 * grammar). Nothing here pattern-matches SQL text: strings, comments, dollar quoting and quoted identifiers cannot
 * fool a parse tree. Fail closed: text the parser rejects, and any statement type missing from the tables below, is
 * `unknown`, which policy denies.
 *
 * Cost per message: one parse plus one walk of its tree (PL/pgSQL bodies of DO and CREATE FUNCTION are parsed once
 * more, they are rare). Results are kept in a small LRU keyed by the exact text, because prepared statements and
 * pgbench-style workloads send the same texts over and over.
 */
import { loadModule, parsePlPgSQLSync, parseSync, scanSync } from 'libpg-query';
import { type Operation, type OperationKind, RISK_TAGS, type RiskTag } from '../../core/operation.js';

export interface ClassifiedStatement {
  readonly kind: OperationKind;
  readonly tags: readonly RiskTag[];
  /** Command tag style label: SELECT, INSERT, CREATE TABLE, DO... */
  readonly action: string;
  /** The statement's own text, cut from the message. */
  readonly text: string;
  /** Set when the parser rejected the SQL: kind is then `unknown`. */
  readonly error?: string;
  /** `PREPARE name AS ...`: the session remembers this classification under the name (kind and tags are the inner statement's). */
  readonly prepares?: string;
  /** `EXECUTE name`: the prepared statement it runs. */
  readonly executes?: string;
  /** `DEALLOCATE name`: the session forgets the name. */
  readonly deallocates?: string;
  /** `DEALLOCATE ALL` or `DISCARD ALL`: the session forgets every prepared name. */
  readonly deallocatesAll?: boolean;
}

export interface ClassifyOptions {
  /** Looks up what the session recorded for `PREPARE name`; without it, `EXECUTE` is `unknown`. */
  readonly preparedStatement?: (name: string) => ClassifiedStatement | undefined;
}

/** How privileged each kind is; `unknown` outranks everything so a message with an unclassified part is denied. */
export const KIND_RANK: Readonly<Record<OperationKind, number>> = Object.assign(Object.create(null), {
  session: 0,
  read: 1,
  write: 2,
  ddl: 3,
  admin: 4,
  unknown: 5,
});

export function mostPrivileged(a: OperationKind, b: OperationKind): OperationKind {
  return KIND_RANK[b] > KIND_RANK[a] ? b : a;
}

let loaded: Promise<void> | undefined;

/** Loads the parser's wasm once; every later call returns the same promise (a failed load may be retried). */
export async function loadSqlClassifier(): Promise<void> {
  loaded ??= loadModule().catch((error: unknown) => {
    loaded = undefined;
    throw error;
  });
  return loaded;
}

const CACHE_LIMIT = 512;
/** Longer texts are classified every time: bulk INSERTs would otherwise pin megabytes in the cache. */
const CACHE_TEXT_LIMIT = 16 * 1024;
const cache = new Map<string, readonly ClassifiedStatement[]>();

export function classifySql(sql: string, options: ClassifyOptions = {}): ClassifiedStatement[] {
  const cached = cache.get(sql);
  if (cached !== undefined) {
    // Re-insert to mark it most recently used.
    cache.delete(sql);
    cache.set(sql, cached);
    return [...cached];
  }
  const result = classifyUncached(sql, options);
  // EXECUTE depends on what the session has prepared, so such results are not reusable.
  if (sql.length <= CACHE_TEXT_LIMIT && !result.some((s) => s.executes !== undefined)) {
    if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value as string);
    cache.set(sql, Object.freeze(result.map(freezeStatement)));
  }
  return result;
}

/**
 * One operation for a whole message: as privileged as its most privileged statement, with every statement's tags,
 * and unclassifiable when any statement failed to parse.
 */
export function toOperation(resource: string, statements: readonly ClassifiedStatement[], text: string): Operation {
  let kind: OperationKind = 'session';
  const tags = new Set<RiskTag>();
  let error: string | undefined;
  for (const statement of statements) {
    kind = mostPrivileged(kind, statement.kind);
    for (const tag of statement.tags) tags.add(tag);
    error ??= statement.error;
  }
  return {
    protocol: 'postgres',
    resource,
    kind,
    tags: orderTags(tags),
    action: statements.length === 0 ? 'EMPTY' : statements.map((s) => s.action).join('; '),
    text,
    ...(error === undefined ? {} : { unclassifiable: error }),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Parsing and cutting the text into statements

type Ast = { readonly [key: string]: unknown };

interface RawStmt {
  readonly stmt?: Ast;
  readonly stmt_location?: number;
  readonly stmt_len?: number;
}

function classifyUncached(sql: string, options: ClassifyOptions): ClassifiedStatement[] {
  if (sql.length === 0) return [];
  // The parser reads a C string and would stop at a NUL, classifying only a prefix of what the caller sent.
  if (sql.includes('\0')) return [unparsable(sql, 'the query text contains a NUL byte')];
  let stmts: readonly RawStmt[];
  try {
    stmts = (parseSync(sql) as { stmts?: RawStmt[] }).stmts ?? [];
  } catch (error) {
    return [unparsable(sql, error instanceof Error ? error.message : String(error))];
  }
  const source = new SourceText(sql);
  return stmts.map((raw) => {
    // The parser omits zero-valued fields: no location means 0, no length means "to the end".
    const text = source.cut(raw.stmt_location ?? 0, raw.stmt_len || undefined).trim();
    return classifyStatement(raw.stmt ?? {}, { text, options });
  });
}

function unparsable(text: string, error: string): ClassifiedStatement {
  return { kind: 'unknown', tags: [], action: 'UNPARSABLE', text, error };
}

/** The parser reports UTF-8 byte offsets; JavaScript strings index UTF-16 code units. */
class SourceText {
  private readonly bytes: Buffer | undefined;
  constructor(private readonly text: string) {
    this.bytes = Buffer.byteLength(text) === text.length ? undefined : Buffer.from(text, 'utf8');
  }
  cut(start: number, length?: number): string {
    const end = length === undefined ? undefined : start + length;
    return this.bytes === undefined ? this.text.slice(start, end) : this.bytes.subarray(start, end).toString('utf8');
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Classifying one statement

interface Context {
  /** The top-level statement's text (PL/pgSQL bodies are parsed from it). */
  readonly text: string;
  readonly options: ClassifyOptions;
}

/** What the statement table says about one statement node, before its subtree is walked. */
interface Finding {
  readonly kind: OperationKind;
  readonly action: string;
  readonly tags?: readonly RiskTag[];
  /** The statement it names does not run (EXPLAIN without ANALYZE): only dangerous tags found inside count. */
  readonly inert?: boolean;
  readonly prepares?: string;
  readonly executes?: string;
  readonly deallocates?: string;
  readonly deallocatesAll?: boolean;
}

/** What the walk of a subtree found: tags, and the least kind its nested statements and calls imply. */
interface Risks {
  readonly tags: Set<RiskTag>;
  floor: OperationKind;
}

type StatementRule = Finding | ((node: Ast, context: Context) => Finding);

function classifyStatement(wrapper: Ast, context: Context): ClassifiedStatement {
  const type = nodeType(wrapper);
  const node = type === undefined ? undefined : asAst(wrapper[type]);
  const rule = type === undefined ? undefined : STATEMENTS[type];
  if (type === undefined || node === undefined || rule === undefined) {
    return { kind: 'unknown', tags: [], action: type ?? 'UNKNOWN', text: context.text };
  }
  const finding = typeof rule === 'function' ? rule(node, context) : rule;
  const risks: Risks = { tags: new Set(finding.tags), floor: 'session' };
  walk(node, risks, context);
  let kind = finding.kind;
  let tags: Iterable<RiskTag> = risks.tags;
  if (finding.inert) {
    tags = [...risks.tags].filter((tag) => RISK_TAGS[tag].dangerous || finding.tags?.includes(tag));
  } else {
    kind = mostPrivileged(kind, risks.floor);
  }
  return {
    kind,
    tags: orderTags(tags),
    action: finding.action,
    text: context.text,
    ...(finding.prepares === undefined ? {} : { prepares: finding.prepares }),
    ...(finding.executes === undefined ? {} : { executes: finding.executes }),
    ...(finding.deallocates === undefined ? {} : { deallocates: finding.deallocates }),
    ...(finding.deallocatesAll ? { deallocatesAll: true } : {}),
  };
}

/**
 * Visits every node below `value`. Nested statements (subqueries, CTEs, CREATE SCHEMA elements, PREPARE and EXPLAIN
 * bodies) go through the same statement table, so a DELETE inside a CTE counts as a DELETE; other node types with
 * something to say (function calls, ALTER TABLE subcommands) have visitors.
 */
function walk(value: unknown, risks: Risks, context: Context): void {
  if (Array.isArray(value)) {
    for (const item of value) walk(item, risks, context);
    return;
  }
  if (value === null || typeof value !== 'object') return;
  const ast = value as Ast;
  for (const key of Object.keys(ast)) {
    const child = ast[key];
    if (child === null || typeof child !== 'object') continue;
    const type = INLINE_NODES[key] ?? key;
    const rule = STATEMENTS[type];
    if (rule !== undefined) {
      const finding = typeof rule === 'function' ? rule(child as Ast, context) : rule;
      for (const tag of finding.tags ?? []) risks.tags.add(tag);
      if (!finding.inert) risks.floor = mostPrivileged(risks.floor, finding.kind);
    }
    VISITORS[type]?.(child as Ast, risks);
    walk(child, risks, context);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The statement table: node type -> kind, action and tags

const READ_WRITE_OPTION = 'transaction_read_only';
/** Settings whose change would let a caller leave the read-only session it was opened in. */
const READ_ONLY_SETTINGS = new Set(['default_transaction_read_only', 'transaction_read_only']);
/** Settings that change whose privileges the session runs with. */
const ROLE_SETTINGS = new Set(['role', 'session_authorization', 'session_replication_role']);

function fixed(kind: OperationKind, action: string, ...tags: RiskTag[]): Finding {
  return { kind, action, tags };
}

const TRANSACTION_STATEMENTS: Readonly<Record<string, Finding>> = nullPrototype({
  TRANS_STMT_BEGIN: fixed('session', 'BEGIN'),
  TRANS_STMT_START: fixed('session', 'START TRANSACTION'),
  TRANS_STMT_COMMIT: fixed('session', 'COMMIT'),
  TRANS_STMT_ROLLBACK: fixed('session', 'ROLLBACK'),
  TRANS_STMT_SAVEPOINT: fixed('session', 'SAVEPOINT'),
  TRANS_STMT_RELEASE: fixed('session', 'RELEASE'),
  TRANS_STMT_ROLLBACK_TO: fixed('session', 'ROLLBACK TO SAVEPOINT'),
  // Two-phase commit leaves transactions (and their locks) behind the session, or settles other sessions' ones.
  TRANS_STMT_PREPARE: fixed('admin', 'PREPARE TRANSACTION'),
  TRANS_STMT_COMMIT_PREPARED: fixed('admin', 'COMMIT PREPARED'),
  TRANS_STMT_ROLLBACK_PREPARED: fixed('admin', 'ROLLBACK PREPARED'),
});

/** Object types whose DROP undoes an admin-level CREATE. */
const ADMIN_OBJECTS = new Set([
  'OBJECT_EXTENSION',
  'OBJECT_FDW',
  'OBJECT_EVENT_TRIGGER',
  'OBJECT_LANGUAGE',
  'OBJECT_PUBLICATION',
  'OBJECT_ACCESS_METHOD',
]);

const OBJECT_NAMES: Readonly<Record<string, string>> = nullPrototype({
  OBJECT_MATVIEW: 'MATERIALIZED VIEW',
  OBJECT_FDW: 'FOREIGN DATA WRAPPER',
  OBJECT_TSCONFIGURATION: 'TEXT SEARCH CONFIGURATION',
  OBJECT_TSDICTIONARY: 'TEXT SEARCH DICTIONARY',
  OBJECT_TSPARSER: 'TEXT SEARCH PARSER',
  OBJECT_TSTEMPLATE: 'TEXT SEARCH TEMPLATE',
});

/** `OBJECT_FOREIGN_TABLE` -> `FOREIGN TABLE`. */
function objectName(objtype: unknown): string {
  const name = typeof objtype === 'string' ? objtype : 'OBJECT_UNKNOWN';
  return OBJECT_NAMES[name] ?? name.slice('OBJECT_'.length).replaceAll('_', ' ');
}

/** Extensions that open remote connections or reach the server's files. */
const EXTENSION_TAGS: Readonly<Record<string, RiskTag>> = nullPrototype({
  dblink: 'remote-access',
  postgres_fdw: 'remote-access',
  file_fdw: 'file-access',
  adminpack: 'file-access',
});

/** Procedural languages that run outside the database sandbox: creating their functions is superuser business. */
const UNTRUSTED_LANGUAGES = new Set(['c', 'internal', 'plpythonu', 'plpython2u', 'plpython3u', 'plperlu', 'pltclu']);

const STATEMENTS: Readonly<Record<string, StatementRule>> = nullPrototype<StatementRule>({
  // Reads, and the statements around them.
  SelectStmt: (node) => {
    // SELECT INTO creates a table; FOR UPDATE/SHARE takes row locks: both checked by the walk at any depth.
    const tags = dataModifyingCte(node);
    if (node['intoClause'] !== undefined) return { kind: 'ddl', action: 'SELECT INTO', tags: [...tags, 'select-into'] };
    if (node['lockingClause'] !== undefined)
      return { kind: 'write', action: 'SELECT', tags: [...tags, 'select-for-update'] };
    return { kind: 'read', action: 'SELECT', tags };
  },
  ExplainStmt: (node) => {
    // EXPLAIN ANALYZE runs its statement; plain EXPLAIN only plans it (but parameters and constant folding still
    // evaluate expressions, so dangerous tags inside still count).
    const analyze = optionList(node['options']).find((o) => o.defname === 'analyze');
    if (analyze !== undefined && !isFalse(analyze.arg)) return { kind: 'read', action: 'EXPLAIN ANALYZE' };
    return { kind: 'read', action: 'EXPLAIN', inert: true };
  },
  DeclareCursorStmt: fixed('session', 'DECLARE CURSOR'), // the walk raises it to its query's kind
  VariableShowStmt: fixed('session', 'SHOW'),
  TransactionStmt: (node) => {
    const finding = TRANSACTION_STATEMENTS[String(node['kind'])] ?? fixed('unknown', 'TRANSACTION');
    return leavesReadOnly(node['options']) ? { ...finding, kind: 'write' } : finding;
  },
  VariableSetStmt: classifySet,
  ConstraintsSetStmt: fixed('session', 'SET CONSTRAINTS'),
  DiscardStmt: (node) =>
    // DISCARD ALL includes RESET ALL, which can turn default_transaction_read_only back off.
    node['target'] === 'DISCARD_ALL'
      ? { kind: 'write', action: 'DISCARD ALL', deallocatesAll: true }
      : fixed('session', 'DISCARD'),
  DeallocateStmt: (node) =>
    node['isall'] === true
      ? { kind: 'session', action: 'DEALLOCATE', deallocatesAll: true }
      : { kind: 'session', action: 'DEALLOCATE', deallocates: String(node['name']) },
  ListenStmt: fixed('session', 'LISTEN'),
  UnlistenStmt: fixed('session', 'UNLISTEN'),
  ClosePortalStmt: fixed('session', 'CLOSE CURSOR'),
  FetchStmt: (node) => fixed('session', node['ismove'] === true ? 'MOVE' : 'FETCH'),
  PrepareStmt: (node) => ({ kind: 'session', action: 'PREPARE', prepares: String(node['name']) }), // walk adds the body
  ExecuteStmt: (node, context) => {
    const name = String(node['name']);
    const prepared = context.options.preparedStatement?.(name);
    if (prepared === undefined || prepared.error !== undefined)
      return { kind: 'unknown', action: 'EXECUTE', executes: name };
    return { kind: prepared.kind, action: 'EXECUTE', tags: prepared.tags, executes: name };
  },

  // Writes.
  InsertStmt: (node) => ({ kind: 'write', action: 'INSERT', tags: dataModifyingCte(node) }),
  UpdateStmt: (node) => ({
    kind: 'write',
    action: 'UPDATE',
    tags:
      node['whereClause'] === undefined ? [...dataModifyingCte(node), 'update-without-where'] : dataModifyingCte(node),
  }),
  DeleteStmt: (node) => ({
    kind: 'write',
    action: 'DELETE',
    tags:
      node['whereClause'] === undefined ? [...dataModifyingCte(node), 'delete-without-where'] : dataModifyingCte(node),
  }),
  MergeStmt: (node) => ({ kind: 'write', action: 'MERGE', tags: dataModifyingCte(node) }),
  CopyStmt: (node) => {
    // Server-side files and programs need pg_read/write_server_files or pg_execute_server_program: admin.
    if (node['is_program'] === true) return fixed('admin', 'COPY', 'copy-program');
    if (node['filename'] !== undefined) return fixed('admin', 'COPY', 'copy-server-file');
    // COPY (query) TO STDOUT: the walk raises the kind when the query writes.
    return fixed(node['is_from'] === true ? 'write' : 'read', 'COPY');
  },
  NotifyStmt: fixed('write', 'NOTIFY'),
  LockStmt: fixed('write', 'LOCK TABLE'),
  // A procedure may do anything a function may; the read-only session still holds for read-only callers.
  CallStmt: fixed('write', 'CALL'),

  // Schema changes.
  CreateStmt: fixed('ddl', 'CREATE TABLE'),
  CreateTableAsStmt: (node) =>
    node['objtype'] === 'OBJECT_MATVIEW'
      ? fixed('ddl', 'CREATE MATERIALIZED VIEW')
      : fixed('ddl', 'CREATE TABLE AS', 'select-into'),
  RefreshMatViewStmt: fixed('ddl', 'REFRESH MATERIALIZED VIEW'),
  IndexStmt: fixed('ddl', 'CREATE INDEX'),
  ViewStmt: fixed('ddl', 'CREATE VIEW'),
  CreateSchemaStmt: fixed('ddl', 'CREATE SCHEMA'),
  CreateSeqStmt: fixed('ddl', 'CREATE SEQUENCE'),
  AlterSeqStmt: fixed('ddl', 'ALTER SEQUENCE'),
  AlterTableStmt: (node) => fixed('ddl', `ALTER ${objectName(node['objtype'])}`),
  RenameStmt: (node) => fixed('ddl', `ALTER ${objectName(node['renameType'])}`),
  AlterObjectSchemaStmt: (node) => fixed('ddl', `ALTER ${objectName(node['objectType'])}`),
  AlterObjectDependsStmt: (node) => fixed('ddl', `ALTER ${objectName(node['objectType'])}`),
  AlterOwnerStmt: (node) => fixed('ddl', `ALTER ${objectName(node['objectType'])}`, 'privilege-change'),
  DropStmt: (node) => {
    const objtype = node['removeType'];
    const kind = ADMIN_OBJECTS.has(String(objtype)) ? 'admin' : 'ddl';
    // Dropping a row-level security policy widens what others may see.
    const tags: RiskTag[] = objtype === 'OBJECT_POLICY' ? ['drop', 'privilege-change'] : ['drop'];
    return { kind, action: `DROP ${objectName(objtype)}`, tags };
  },
  TruncateStmt: fixed('ddl', 'TRUNCATE', 'truncate'),
  CommentStmt: fixed('ddl', 'COMMENT'),
  SecLabelStmt: fixed('ddl', 'SECURITY LABEL'),
  CreateFunctionStmt: classifyCreateFunction,
  AlterFunctionStmt: fixed('ddl', 'ALTER FUNCTION'),
  CreateTrigStmt: fixed('ddl', 'CREATE TRIGGER'),
  RuleStmt: fixed('ddl', 'CREATE RULE'),
  DefineStmt: (node) => fixed('ddl', `CREATE ${objectName(node['kind'])}`),
  CreateDomainStmt: fixed('ddl', 'CREATE DOMAIN'),
  AlterDomainStmt: fixed('ddl', 'ALTER DOMAIN'),
  CompositeTypeStmt: fixed('ddl', 'CREATE TYPE'),
  CreateEnumStmt: fixed('ddl', 'CREATE TYPE'),
  CreateRangeStmt: fixed('ddl', 'CREATE TYPE'),
  AlterEnumStmt: fixed('ddl', 'ALTER TYPE'),
  AlterTypeStmt: fixed('ddl', 'ALTER TYPE'),
  AlterCollationStmt: fixed('ddl', 'ALTER COLLATION'),
  AlterOperatorStmt: fixed('ddl', 'ALTER OPERATOR'),
  CreateOpClassStmt: fixed('ddl', 'CREATE OPERATOR CLASS'),
  CreateOpFamilyStmt: fixed('ddl', 'CREATE OPERATOR FAMILY'),
  AlterOpFamilyStmt: fixed('ddl', 'ALTER OPERATOR FAMILY'),
  CreateCastStmt: fixed('ddl', 'CREATE CAST'),
  CreateConversionStmt: fixed('ddl', 'CREATE CONVERSION'),
  CreateTransformStmt: fixed('ddl', 'CREATE TRANSFORM'),
  CreateStatsStmt: fixed('ddl', 'CREATE STATISTICS'),
  AlterStatsStmt: fixed('ddl', 'ALTER STATISTICS'),
  AlterTSDictionaryStmt: fixed('ddl', 'ALTER TEXT SEARCH DICTIONARY'),
  AlterTSConfigurationStmt: fixed('ddl', 'ALTER TEXT SEARCH CONFIGURATION'),
  CreatePolicyStmt: fixed('ddl', 'CREATE POLICY', 'privilege-change'),
  AlterPolicyStmt: fixed('ddl', 'ALTER POLICY', 'privilege-change'),
  // Foreign data: servers, mappings and foreign tables reach other databases.
  CreateForeignTableStmt: fixed('ddl', 'CREATE FOREIGN TABLE', 'remote-access'),
  CreateForeignServerStmt: fixed('ddl', 'CREATE SERVER', 'remote-access'),
  AlterForeignServerStmt: fixed('ddl', 'ALTER SERVER', 'remote-access'),
  CreateUserMappingStmt: fixed('ddl', 'CREATE USER MAPPING', 'remote-access'),
  AlterUserMappingStmt: fixed('ddl', 'ALTER USER MAPPING', 'remote-access'),
  DropUserMappingStmt: fixed('ddl', 'DROP USER MAPPING', 'drop'),
  ImportForeignSchemaStmt: fixed('ddl', 'IMPORT FOREIGN SCHEMA', 'remote-access'),

  // Administration.
  CreateFdwStmt: fixed('admin', 'CREATE FOREIGN DATA WRAPPER', 'remote-access'),
  AlterFdwStmt: fixed('admin', 'ALTER FOREIGN DATA WRAPPER', 'remote-access'),
  CreateExtensionStmt: (node) => {
    const tag = EXTENSION_TAGS[String(node['extname']).toLowerCase()];
    return tag === undefined ? fixed('admin', 'CREATE EXTENSION') : fixed('admin', 'CREATE EXTENSION', tag);
  },
  AlterExtensionStmt: fixed('admin', 'ALTER EXTENSION'),
  AlterExtensionContentsStmt: fixed('admin', 'ALTER EXTENSION'),
  CreatePLangStmt: fixed('admin', 'CREATE LANGUAGE'),
  CreateAmStmt: fixed('admin', 'CREATE ACCESS METHOD'),
  CreateEventTrigStmt: fixed('admin', 'CREATE EVENT TRIGGER'),
  AlterEventTrigStmt: fixed('admin', 'ALTER EVENT TRIGGER'),
  CreatePublicationStmt: fixed('admin', 'CREATE PUBLICATION'),
  AlterPublicationStmt: fixed('admin', 'ALTER PUBLICATION'),
  CreateSubscriptionStmt: fixed('admin', 'CREATE SUBSCRIPTION', 'remote-access'),
  AlterSubscriptionStmt: fixed('admin', 'ALTER SUBSCRIPTION', 'remote-access'),
  DropSubscriptionStmt: fixed('admin', 'DROP SUBSCRIPTION', 'drop'),
  CreateTableSpaceStmt: fixed('admin', 'CREATE TABLESPACE'),
  DropTableSpaceStmt: fixed('admin', 'DROP TABLESPACE', 'drop'),
  AlterTableSpaceOptionsStmt: fixed('admin', 'ALTER TABLESPACE'),
  AlterTableMoveAllStmt: fixed('admin', 'ALTER TABLE'),
  CreatedbStmt: fixed('admin', 'CREATE DATABASE'),
  AlterDatabaseStmt: fixed('admin', 'ALTER DATABASE'),
  AlterDatabaseSetStmt: fixed('admin', 'ALTER DATABASE'),
  AlterDatabaseRefreshCollStmt: fixed('admin', 'ALTER DATABASE'),
  DropdbStmt: fixed('admin', 'DROP DATABASE', 'drop'),
  AlterSystemStmt: fixed('admin', 'ALTER SYSTEM'),
  CreateRoleStmt: (node) =>
    fixed('admin', node['stmt_type'] === 'ROLESTMT_USER' ? 'CREATE USER' : 'CREATE ROLE', 'privilege-change'),
  AlterRoleStmt: fixed('admin', 'ALTER ROLE', 'privilege-change'),
  AlterRoleSetStmt: fixed('admin', 'ALTER ROLE', 'privilege-change'),
  DropRoleStmt: fixed('admin', 'DROP ROLE', 'drop', 'privilege-change'),
  GrantStmt: (node) => fixed('admin', node['is_grant'] === true ? 'GRANT' : 'REVOKE', 'privilege-change'),
  GrantRoleStmt: (node) => fixed('admin', node['is_grant'] === true ? 'GRANT' : 'REVOKE', 'privilege-change'),
  AlterDefaultPrivilegesStmt: fixed('admin', 'ALTER DEFAULT PRIVILEGES', 'privilege-change'),
  DropOwnedStmt: fixed('admin', 'DROP OWNED', 'drop', 'privilege-change'),
  ReassignOwnedStmt: fixed('admin', 'REASSIGN OWNED', 'privilege-change'),
  VacuumStmt: (node) => fixed('admin', node['is_vacuumcmd'] === true ? 'VACUUM' : 'ANALYZE'),
  ClusterStmt: fixed('admin', 'CLUSTER'),
  ReindexStmt: fixed('admin', 'REINDEX'),
  CheckPointStmt: fixed('admin', 'CHECKPOINT'),
  LoadStmt: fixed('admin', 'LOAD'),
  // A DO block runs arbitrary procedural code: admin, and always dynamic-sql.
  DoStmt: (node, context) => {
    const options = optionList(node['args']);
    const language = stringValue(options.find((o) => o.defname === 'language')?.arg) ?? 'plpgsql';
    const tags = language.toLowerCase() === 'plpgsql' ? plpgsqlTags(context.text) : [];
    return { kind: 'admin', action: 'DO', tags: [...tags, 'dynamic-sql'] };
  },
});

/** Fields that hold a node without the usual `{ Type: {...} }` wrapper. */
const INLINE_NODES: Readonly<Record<string, string>> = nullPrototype({
  funccall: 'FuncCall',
  larg: 'SelectStmt',
  rarg: 'SelectStmt',
});

/** WITH clauses whose queries modify data: the whole statement writes. */
function dataModifyingCte(node: Ast): RiskTag[] {
  const ctes = asAst(node['withClause'])?.['ctes'];
  if (!Array.isArray(ctes)) return [];
  const modifies = ctes.some((cte) => {
    const query = asAst(asAst(asAst(cte)?.['CommonTableExpr'])?.['ctequery']);
    const type = query === undefined ? undefined : nodeType(query);
    return type !== undefined && DATA_MODIFYING.has(type);
  });
  return modifies ? ['data-modifying-cte'] : [];
}
const DATA_MODIFYING = new Set(['InsertStmt', 'UpdateStmt', 'DeleteStmt', 'MergeStmt']);

/** SET / RESET: ordinary settings are session control; read-only and role settings are not. */
function classifySet(node: Ast): Finding {
  const kind = String(node['kind']);
  const action = kind.startsWith('VAR_RESET') ? 'RESET' : 'SET';
  const name = String(node['name'] ?? '').toLowerCase();
  if (ROLE_SETTINGS.has(name)) return fixed('admin', action, 'role-change');
  // RESET ALL reverts default_transaction_read_only too.
  if (kind === 'VAR_RESET_ALL') return fixed('write', action);
  // SET TRANSACTION ... / SET SESSION CHARACTERISTICS AS TRANSACTION ...
  if (kind === 'VAR_SET_MULTI') return fixed(leavesReadOnly(node['args']) ? 'write' : 'session', action);
  if (READ_ONLY_SETTINGS.has(name)) {
    const args = node['args'];
    const value = Array.isArray(args) && args.length === 1 ? args[0] : undefined;
    // Only an explicit true keeps the session read-only; off, DEFAULT, RESET or anything unclear leave it.
    return fixed(kind === 'VAR_SET_VALUE' && isTrue(value) ? 'session' : 'write', action);
  }
  return fixed('session', action);
}

/** True when transaction options (BEGIN, SET TRANSACTION) include READ WRITE. */
function leavesReadOnly(options: unknown): boolean {
  return optionList(options).some((o) => o.defname === READ_WRITE_OPTION && !isTrue(o.arg));
}

function classifyCreateFunction(node: Ast, context: Context): Finding {
  const action = node['is_procedure'] === true ? 'CREATE PROCEDURE' : 'CREATE FUNCTION';
  const options = optionList(node['options']);
  const language = (stringValue(options.find((o) => o.defname === 'language')?.arg) ?? 'sql').toLowerCase();
  const tags: RiskTag[] = [];
  // SECURITY DEFINER hands the owner's privileges to every caller.
  const security = asAst(options.find((o) => o.defname === 'security')?.arg);
  if (asAst(security?.['Boolean'])?.['boolval'] === true) tags.push('privilege-change');
  // The body does not run now, but this is the only time it is seen: tag what it would do.
  if (language === 'plpgsql') {
    tags.push(...plpgsqlTags(context.text));
  } else if (language === 'sql') {
    for (const body of functionBodies(options)) tags.push(...nestedSqlTags(body));
  }
  return { kind: UNTRUSTED_LANGUAGES.has(language) ? 'admin' : 'ddl', action, tags };
}

/** The `AS '...'` strings of a CREATE FUNCTION (BEGIN ATOMIC bodies are in the tree and walked as usual). */
function functionBodies(options: readonly DefElem[]): string[] {
  const items = asAst(asAst(options.find((o) => o.defname === 'as')?.arg)?.['List'])?.['items'];
  return Array.isArray(items) ? items.map(stringValue).filter((s): s is string => s !== undefined) : [];
}

// ---------------------------------------------------------------------------------------------------------------
// Node visitors: function calls and ALTER TABLE subcommands

const VISITORS: Readonly<Record<string, (node: Ast, risks: Risks) => void>> = nullPrototype({
  FuncCall: visitFunctionCall,
  AlterTableCmd: (node, risks) => {
    if (PRIVILEGE_SUBCOMMANDS.has(String(node['subtype']))) risks.tags.add('privilege-change');
  },
});

/** ALTER TABLE subcommands that change who may see what. */
const PRIVILEGE_SUBCOMMANDS = new Set(['AT_ChangeOwner', 'AT_DisableRowSecurity', 'AT_NoForceRowSecurity']);

/** Functions by name, whatever their schema or case: `pg_catalog.PG_READ_FILE` is `pg_read_file`. */
const FUNCTION_TAGS: Readonly<Record<string, RiskTag>> = nullPrototype<RiskTag>({
  pg_read_file: 'file-access',
  pg_read_binary_file: 'file-access',
  pg_stat_file: 'file-access',
  pg_ls_dir: 'file-access',
  pg_logdir_ls: 'file-access',
  lo_import: 'file-access',
  lo_export: 'file-access',
  pg_terminate_backend: 'superuser-function',
  pg_cancel_backend: 'superuser-function',
  pg_reload_conf: 'superuser-function',
  pg_rotate_logfile: 'superuser-function',
  pg_promote: 'superuser-function',
  pg_switch_wal: 'superuser-function',
  pg_create_restore_point: 'superuser-function',
  pg_backup_start: 'superuser-function',
  pg_backup_stop: 'superuser-function',
  pg_start_backup: 'superuser-function',
  pg_stop_backup: 'superuser-function',
  pg_wal_replay_pause: 'superuser-function',
  pg_wal_replay_resume: 'superuser-function',
  pg_create_physical_replication_slot: 'superuser-function',
  pg_create_logical_replication_slot: 'superuser-function',
  pg_drop_replication_slot: 'superuser-function',
  pg_copy_physical_replication_slot: 'superuser-function',
  pg_copy_logical_replication_slot: 'superuser-function',
  pg_log_backend_memory_contexts: 'superuser-function',
  // These run a query given as a string: what it does cannot be seen here.
  query_to_xml: 'dynamic-sql',
  query_to_xmlschema: 'dynamic-sql',
  query_to_xml_and_xmlschema: 'dynamic-sql',
  cursor_to_xml: 'dynamic-sql',
  ts_stat: 'dynamic-sql',
});

/** Families of functions by name prefix (dblink, dblink_exec, dblink_connect_u...). */
const FUNCTION_PREFIX_TAGS: readonly (readonly [string, RiskTag])[] = [
  ['dblink', 'remote-access'],
  ['postgres_fdw_', 'remote-access'],
  ['pg_ls_', 'file-access'],
  ['pg_file_', 'file-access'],
  ['pg_stat_reset', 'superuser-function'],
  ['pg_replication_origin_', 'superuser-function'],
];

function visitFunctionCall(node: Ast, risks: Risks): void {
  const name = functionName(node['funcname']);
  if (name === undefined) return;
  if (name === 'set_config') {
    visitSetConfig(node['args'], risks);
    return;
  }
  const tag = FUNCTION_TAGS[name] ?? FUNCTION_PREFIX_TAGS.find(([prefix]) => name.startsWith(prefix))?.[1];
  if (tag === undefined) return;
  risks.tags.add(tag);
  if (tag === 'superuser-function') risks.floor = mostPrivileged(risks.floor, 'admin');
}

/** `set_config(name, value, local)` is SET by another name; a name that is not a constant could be `role`. */
function visitSetConfig(args: unknown, risks: Risks): void {
  const list = Array.isArray(args) ? args : [];
  const setting = constantString(list[0])?.toLowerCase();
  if (setting === undefined || ROLE_SETTINGS.has(setting)) {
    risks.tags.add('role-change');
    risks.floor = mostPrivileged(risks.floor, 'admin');
  } else if (READ_ONLY_SETTINGS.has(setting) && !isTrue(list[1])) {
    risks.floor = mostPrivileged(risks.floor, 'write');
  }
}

function functionName(funcname: unknown): string | undefined {
  if (!Array.isArray(funcname) || funcname.length === 0) return undefined;
  return stringValue(funcname[funcname.length - 1])?.toLowerCase();
}

// ---------------------------------------------------------------------------------------------------------------
// PL/pgSQL bodies (DO blocks and plpgsql functions)

/**
 * Tags of a PL/pgSQL body: dynamic-sql for any EXECUTE form, plus the tags of every embedded SQL statement and
 * expression. A body the PL/pgSQL parser rejects cannot be inspected, so it counts as dynamic-sql (fail closed).
 */
function plpgsqlTags(statementText: string): RiskTag[] {
  let tree: unknown;
  try {
    tree = parsePlPgSQLSync(statementText);
  } catch {
    return ['dynamic-sql'];
  }
  const tags = new Set<RiskTag>();
  walkPlpgsql(tree, tags);
  return [...tags];
}

/** EXECUTE, FOR ... IN EXECUTE, OPEN ... FOR EXECUTE, RETURN QUERY EXECUTE. */
const DYNAMIC_PLPGSQL = new Set(['PLpgSQL_stmt_dynexecute', 'PLpgSQL_stmt_dynfors']);

/** PL/pgSQL expression parse modes (PostgreSQL's RawParseMode). */
const PARSE_MODE = { statement: 0, expression: 2, assignFirst: 3, assignLast: 5 } as const;

function walkPlpgsql(value: unknown, tags: Set<RiskTag>): void {
  if (Array.isArray(value)) {
    for (const item of value) walkPlpgsql(item, tags);
    return;
  }
  if (value === null || typeof value !== 'object') return;
  const ast = value as Ast;
  for (const key of Object.keys(ast)) {
    const child = ast[key];
    if (DYNAMIC_PLPGSQL.has(key) || key === 'dynquery') tags.add('dynamic-sql');
    if (key === 'PLpgSQL_expr') {
      for (const tag of embeddedSqlTags(asAst(child))) tags.add(tag);
      continue;
    }
    walkPlpgsql(child, tags);
  }
}

function embeddedSqlTags(expr: Ast | undefined): RiskTag[] {
  const query = expr?.['query'];
  if (typeof query !== 'string') return [];
  const mode = typeof expr?.['parseMode'] === 'number' ? expr['parseMode'] : PARSE_MODE.statement;
  if (mode === PARSE_MODE.statement) return nestedSqlTags(query);
  if (mode === PARSE_MODE.expression) return nestedSqlTags(`SELECT ${query}`);
  if (mode >= PARSE_MODE.assignFirst && mode <= PARSE_MODE.assignLast) {
    const value = assignedExpression(query);
    return value === undefined ? ['dynamic-sql'] : nestedSqlTags(`SELECT ${value}`);
  }
  return [];
}

/** `target := expression` (or `=`): the expression, found with the SQL scanner at bracket depth zero. */
function assignedExpression(assignment: string): string | undefined {
  let tokens: readonly { start: number; end: number; text: string }[];
  try {
    tokens = scanSync(assignment).tokens;
  } catch {
    return undefined;
  }
  let depth = 0;
  for (const token of tokens) {
    if (token.text === '(' || token.text === '[') depth++;
    else if (token.text === ')' || token.text === ']') depth--;
    else if (depth === 0 && (token.text === ':=' || token.text === '=')) {
      return new SourceText(assignment).cut(token.end);
    }
  }
  return undefined;
}

/** Tags of SQL embedded in a function body; SQL that does not parse cannot be inspected (fail closed). */
function nestedSqlTags(sql: string): RiskTag[] {
  const statements = classifyUncached(sql, {});
  const tags = new Set<RiskTag>();
  for (const statement of statements) {
    if (statement.error !== undefined) tags.add('dynamic-sql');
    for (const tag of statement.tags) tags.add(tag);
  }
  return [...tags];
}

// ---------------------------------------------------------------------------------------------------------------
// Small AST helpers

interface DefElem {
  readonly defname?: string;
  readonly arg?: unknown;
}

function nodeType(wrapper: Ast): string | undefined {
  const keys = Object.keys(wrapper);
  return keys.length === 1 ? keys[0] : undefined;
}

function asAst(value: unknown): Ast | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Ast) : undefined;
}

/** `[{ DefElem: {...} }, ...]` -> the DefElems. */
function optionList(value: unknown): DefElem[] {
  if (!Array.isArray(value)) return [];
  return value.map((item) => asAst(asAst(item)?.['DefElem'])).filter((d): d is Ast => d !== undefined) as DefElem[];
}

/** `{ String: { sval } }` -> sval. */
function stringValue(value: unknown): string | undefined {
  const sval = asAst(asAst(value)?.['String'])?.['sval'];
  return typeof sval === 'string' ? sval : undefined;
}

/** `{ A_Const: { sval: { sval } } }` -> sval. */
function constantString(value: unknown): string | undefined {
  const sval = asAst(asAst(asAst(value)?.['A_Const'])?.['sval'])?.['sval'];
  return typeof sval === 'string' ? sval : undefined;
}

/** Boolean spellings PostgreSQL accepts (parse_bool), as the parser leaves them: strings, integers or booleans. */
const TRUE_WORDS = new Set(['t', 'tr', 'tru', 'true', 'y', 'ye', 'yes', 'on', '1']);
const FALSE_WORDS = new Set(['f', 'fa', 'fal', 'fals', 'false', 'n', 'no', 'of', 'off', '0']);

function booleanValue(value: unknown): boolean | undefined {
  const node = asAst(value);
  const constant = asAst(node?.['A_Const']);
  const text = constantString(value) ?? stringValue(value);
  if (text !== undefined) {
    const word = text.trim().toLowerCase();
    return TRUE_WORDS.has(word) ? true : FALSE_WORDS.has(word) ? false : undefined;
  }
  // The parser omits zero values: `{ ival: {} }` is 0 and `{ boolval: {} }` is false.
  const ival = asAst(constant?.['ival']);
  if (ival !== undefined) return ival['ival'] === 1 ? true : ival['ival'] === undefined ? false : undefined;
  const boolval = asAst(constant?.['boolval'] ?? node?.['Boolean']);
  if (boolval !== undefined) return boolval['boolval'] === true;
  return undefined;
}

function isTrue(value: unknown): boolean {
  return booleanValue(value) === true;
}

function isFalse(value: unknown): boolean {
  return booleanValue(value) === false;
}

function orderTags(tags: Iterable<RiskTag>): RiskTag[] {
  const present = new Set(tags);
  return (Object.keys(RISK_TAGS) as RiskTag[]).filter((tag) => present.has(tag));
}

function freezeStatement(statement: ClassifiedStatement): ClassifiedStatement {
  Object.freeze(statement.tags);
  return Object.freeze(statement);
}

function nullPrototype<T>(entries: Record<string, T>): Readonly<Record<string, T>> {
  return Object.assign(Object.create(null) as Record<string, T>, entries);
}
