/** The statement table of the SQL classifier: parse-tree node type -> kind, action and risk tags. */
import type { OperationKind, RiskTag } from '../../../core/operation.js';
import { nestedSqlTags, plpgsqlTags } from './plpgsql-tags.js';
import {
  type Ast,
  asAst,
  booleanValue,
  type Context,
  constantString,
  type DefElem,
  type Finding,
  isTrue,
  nameValue,
  nodeType,
  nullPrototype,
  optionList,
  READ_WRITE_OPTION,
  readsValue,
  type StatementRule,
  stringValue,
} from './sql-ast.js';
import { type SettingValue, settingRisk } from './sql-settings.js';
import { judgeWhere } from './where-bounds.js';

// ---------------------------------------------------------------------------------------------------------------
// The statement table: node type -> kind, action and tags

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

export const STATEMENTS: Readonly<Record<string, StatementRule>> = nullPrototype<StatementRule>({
  // Reads, and the statements around them.
  SelectStmt: (node) => {
    // SELECT INTO creates a table; FOR UPDATE/SHARE takes row locks: both checked by the walk at any depth.
    const tags = dataModifyingCte(node);
    if (node['intoClause'] !== undefined) return { kind: 'ddl', action: 'SELECT INTO', tags: [...tags, 'select-into'] };
    if (node['lockingClause'] !== undefined)
      return { kind: 'write', action: 'SELECT', tags: [...tags, 'select-for-update'] };
    return { kind: 'read', action: 'SELECT', tags };
  },
  ExplainStmt: (node) =>
    // EXPLAIN ANALYZE runs its statement (the walk gives it that statement's kind and tags); plain EXPLAIN only
    // plans it (but parameters and constant folding still evaluate expressions, so dangerous tags inside count).
    explainAnalyzes(node['options'])
      ? { kind: 'read', action: 'EXPLAIN ANALYZE' }
      : { kind: 'read', action: 'EXPLAIN', inert: true },
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
  // UPDATE pg_settings is set_config by another name, for any parameter.
  UpdateStmt: (node) => unboundedWrite(node, isSettingsView(node['relation']) ? 'admin' : 'write', 'UPDATE'),
  DeleteStmt: (node) => unboundedWrite(node, 'write', 'DELETE'),
  MergeStmt: (node) => ({ kind: 'write', action: 'MERGE', tags: [...dataModifyingCte(node), ...mergeTags(node)] }),
  CopyStmt: (node) => {
    // Server-side files and programs need pg_read/write_server_files or pg_execute_server_program: admin.
    if (node['is_program'] === true) return fixed('admin', 'COPY', 'copy-program');
    if (node['filename'] !== undefined) return fixed('admin', 'COPY', 'copy-server-file');
    // COPY (query) TO STDOUT: the walk raises the kind when the query writes.
    return fixed(node['is_from'] === true ? 'write' : 'read', 'COPY');
  },
  NotifyStmt: fixed('write', 'NOTIFY', 'notify'),
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
    const notes = new Set<string>();
    const tags = language.toLowerCase() === 'plpgsql' ? plpgsqlTags(context.text, notes) : [];
    return { kind: 'admin', action: 'DO', tags: [...tags, 'dynamic-sql'], notes: [...notes] };
  },
});

/** Fields that hold a node without the usual `{ Type: {...} }` wrapper. */
export const INLINE_NODES: Readonly<Record<string, string>> = nullPrototype({
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

/** DELETE and UPDATE: without a WHERE clause that narrows the target's rows, they touch them all (where-bounds.ts). */
function unboundedWrite(node: Ast, kind: OperationKind, action: 'DELETE' | 'UPDATE'): Finding {
  const tags = dataModifyingCte(node);
  const where = judgeWhere(node, action);
  if (where.bounded) return { kind, action, tags };
  const tag: RiskTag = action === 'DELETE' ? 'delete-without-where' : 'update-without-where';
  // An absent WHERE needs no explaining.
  const notes = node['whereClause'] === undefined || where.reason === undefined ? [] : [where.reason];
  return { kind, action, tags: [...tags, tag], notes };
}

/** SET / RESET: by the settings allow-list (sql-settings.ts). */
function classifySet(node: Ast): Finding {
  const kind = String(node['kind']);
  const action = kind.startsWith('VAR_RESET') ? 'RESET' : 'SET';
  // RESET ALL reverts default_transaction_read_only too.
  if (kind === 'VAR_RESET_ALL') return fixed('write', action);
  // SET TRANSACTION ... / SET SESSION CHARACTERISTICS AS TRANSACTION ...
  if (kind === 'VAR_SET_MULTI') return fixed(leavesReadOnly(node['args']) ? 'write' : 'session', action);
  const name = String(node['name'] ?? '');
  const args = Array.isArray(node['args']) ? node['args'] : [];
  const value: SettingValue =
    kind === 'VAR_RESET' || kind === 'VAR_SET_DEFAULT'
      ? { type: 'default' }
      : kind === 'VAR_SET_VALUE' && args.length === 1
        ? { type: 'value', text: constantString(args[0]) ?? integerText(args[0]), boolean: booleanValue(args[0]) }
        : { type: 'value', text: undefined, boolean: undefined };
  const risk = settingRisk(name, value);
  return { kind: risk.kind, action, tags: risk.tags };
}

/** `{ A_Const: { ival: { ival } } }` -> its digits (the parser omits a zero ival). */
function integerText(value: unknown): string | undefined {
  const ival = asAst(asAst(asAst(value)?.['A_Const'])?.['ival']);
  if (ival === undefined) return undefined;
  return typeof ival['ival'] === 'number' ? String(ival['ival']) : '0';
}

/**
 * Whether EXPLAIN runs its statement, read as PostgreSQL reads its options: the last `analyze` wins (no error for a
 * repeat), no value means true, and a value is a boolean only when it is true, false, on, off (any case), 1 or 0.
 * Anything else makes the server refuse the statement; it is taken as true, so a mistake here cannot hide a run.
 */
export function explainAnalyzes(options: unknown): boolean {
  const analyze = optionList(options).findLast((o) => o.defname === 'analyze');
  if (analyze === undefined) return false;
  if (analyze.arg === undefined) return true;
  readsValue();
  const arg = asAst(analyze.arg);
  const integer = asAst(arg?.['Integer']);
  if (integer !== undefined) return integer['ival'] !== undefined;
  const text = nameValue(analyze.arg)?.toLowerCase();
  return text !== 'false' && text !== 'off';
}

/**
 * MERGE's WHEN clauses that delete or update touch as many rows as its join matches, which the classifier cannot
 * bound: they carry the same tags as DELETE and UPDATE without WHERE, so they are reviewed under the same rules.
 */
function mergeTags(node: Ast): RiskTag[] {
  const tags: RiskTag[] = ['merge'];
  const clauses = Array.isArray(node['mergeWhenClauses']) ? node['mergeWhenClauses'] : [];
  for (const clause of clauses) {
    const command = asAst(asAst(clause)?.['MergeWhenClause'])?.['commandType'];
    if (command === 'CMD_DELETE') tags.push('delete-without-where');
    if (command === 'CMD_UPDATE') tags.push('update-without-where');
  }
  return tags;
}

function isSettingsView(relation: unknown): boolean {
  const range = asAst(relation);
  const schema = range?.['schemaname'];
  return (schema === undefined || schema === 'pg_catalog') && range?.['relname'] === 'pg_settings';
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
  const notes = new Set<string>();
  // SECURITY DEFINER hands the owner's privileges to every caller.
  const security = asAst(options.find((o) => o.defname === 'security')?.arg);
  if (asAst(security?.['Boolean'])?.['boolval'] === true) tags.push('privilege-change');
  // The body does not run now, but this is the only time it is seen: tag what it would do.
  if (language === 'plpgsql') {
    tags.push(...plpgsqlTags(context.text, notes));
  } else if (language === 'sql') {
    for (const body of functionBodies(options)) tags.push(...nestedSqlTags(body, notes));
  }
  return { kind: UNTRUSTED_LANGUAGES.has(language) ? 'admin' : 'ddl', action, tags, notes: [...notes] };
}

/** The `AS '...'` strings of a CREATE FUNCTION (BEGIN ATOMIC bodies are in the tree and walked as usual). */
function functionBodies(options: readonly DefElem[]): string[] {
  const items = asAst(asAst(options.find((o) => o.defname === 'as')?.arg)?.['List'])?.['items'];
  return Array.isArray(items) ? items.map(stringValue).filter((s): s is string => s !== undefined) : [];
}
