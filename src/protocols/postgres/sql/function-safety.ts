/**
 * Which function calls a plain read may make: an allow-list. A call is a read only when it is a pg_catalog built-in
 * whose every overload is immutable or stable (or a volatile one reviewed as a read below) and that is not on the
 * reviewed exception lists, or a function the resource lists in `readFunctions`. Everything else makes the statement
 * something other than a read, so a function that runs SQL text, touches files or changes state is caught as a class
 * (volatile or unknown) even when no list below names it; the lists only give the worst ones a dangerous tag.
 *
 * Column notation calls functions too: `(expr).fn` and `alias.fn` are `fn(expr)` and `fn(alias)` when no column of
 * that name exists, so those names are checked against the built-ins (see `columnNotationRisk`).
 *
 * Residual risk, by design: operators and casts are resolved by the server and not checked here. A reader cannot
 * create them (that is DDL), so only functions an administrator put behind an operator, a cast or a type's
 * input function could run that way. Likewise an unqualified name could resolve to a same-named function an
 * administrator created in a schema on the search_path with a better-matching signature, and column notation can
 * reach a user function an administrator defined on a table's row type (`t.fn`: a column name, as far as the parser
 * can tell).
 */
import type { OperationKind, RiskTag } from '../../../core/operation.js';
import { BUILTIN_FUNCTIONS_BY_VOLATILITY } from './builtin-functions.js';
import type { ReadFunctions } from './read-functions.js';
import { nullPrototype } from './sql-ast.js';

export type Volatility = 'immutable' | 'stable' | 'volatile';

/** Built-in name -> volatility of its most volatile overload (generated from a real server's pg_proc). */
const BUILTINS: Readonly<Record<string, Volatility>> = (() => {
  const table = Object.create(null) as Record<string, Volatility>;
  for (const volatility of ['immutable', 'stable', 'volatile'] as const) {
    for (const line of BUILTIN_FUNCTIONS_BY_VOLATILITY[volatility]) {
      for (const name of line.split(' ')) table[name] = volatility;
    }
  }
  return Object.freeze(table);
})();

export function builtinVolatility(name: string): Volatility | undefined {
  return BUILTINS[name];
}

/** What a call does to the statement: a tag and the least kind it implies. */
export interface FunctionRisk {
  readonly tag: RiskTag;
  readonly kind: OperationKind;
}

const risk = (tag: RiskTag, kind: OperationKind): FunctionRisk => ({ tag, kind });
const FILE = risk('file-access', 'admin');
const SUPERUSER = risk('superuser-function', 'admin');
const DYNAMIC_SQL = risk('dynamic-sql', 'admin');
const REMOTE = risk('remote-access', 'admin');
const LARGE_OBJECT = risk('large-object-write', 'write');
const VOLATILE = risk('volatile-function', 'write');
const UNKNOWN = risk('unknown-function', 'write');

/**
 * Reviewed exceptions by name (lower-cased, whatever the schema: a user function named like one of these is tagged
 * too, which errs on the safe side). These hold whatever the volatility says.
 */
const NAMED_RISKS: Readonly<Record<string, FunctionRisk>> = nullPrototype<FunctionRisk>({
  // Server files, and views over them (the functions behind pg_file_settings, pg_hba_file_rules...).
  pg_read_file: FILE,
  pg_read_binary_file: FILE,
  pg_read_file_old: FILE,
  pg_stat_file: FILE,
  pg_logdir_ls: FILE,
  pg_current_logfile: FILE,
  pg_hba_file_rules: FILE,
  pg_ident_file_mappings: FILE,
  pg_show_all_file_settings: FILE,
  pg_config: FILE,
  pg_control_checkpoint: FILE,
  pg_control_init: FILE,
  pg_control_recovery: FILE,
  pg_control_system: FILE,
  pg_available_extensions: FILE,
  pg_available_extension_versions: FILE,
  lo_import: FILE,
  lo_export: FILE,
  // Run a query given as text: what it does cannot be seen here (ts_rewrite's two-argument form takes one).
  query_to_xml: DYNAMIC_SQL,
  query_to_xmlschema: DYNAMIC_SQL,
  query_to_xml_and_xmlschema: DYNAMIC_SQL,
  cursor_to_xml: DYNAMIC_SQL,
  cursor_to_xmlschema: DYNAMIC_SQL,
  ts_stat: DYNAMIC_SQL,
  ts_rewrite: DYNAMIC_SQL,
  // Server administration.
  pg_terminate_backend: SUPERUSER,
  pg_cancel_backend: SUPERUSER,
  pg_reload_conf: SUPERUSER,
  pg_rotate_logfile: SUPERUSER,
  pg_rotate_logfile_old: SUPERUSER,
  pg_promote: SUPERUSER,
  pg_switch_wal: SUPERUSER,
  pg_create_restore_point: SUPERUSER,
  pg_backup_start: SUPERUSER,
  pg_backup_stop: SUPERUSER,
  pg_start_backup: SUPERUSER,
  pg_stop_backup: SUPERUSER,
  pg_wal_replay_pause: SUPERUSER,
  pg_wal_replay_resume: SUPERUSER,
  pg_create_physical_replication_slot: SUPERUSER,
  pg_create_logical_replication_slot: SUPERUSER,
  pg_drop_replication_slot: SUPERUSER,
  pg_copy_physical_replication_slot: SUPERUSER,
  pg_copy_logical_replication_slot: SUPERUSER,
  pg_replication_slot_advance: SUPERUSER,
  pg_sync_replication_slots: SUPERUSER,
  pg_logical_slot_get_changes: SUPERUSER,
  pg_logical_slot_get_binary_changes: SUPERUSER,
  pg_logical_slot_peek_changes: SUPERUSER,
  pg_logical_slot_peek_binary_changes: SUPERUSER,
  pg_logical_emit_message: SUPERUSER,
  pg_log_standby_snapshot: SUPERUSER,
  pg_log_backend_memory_contexts: SUPERUSER,
  // Creates a collation for every locale of the operating system: catalog writes by a SELECT.
  pg_import_system_collations: SUPERUSER,
  pg_clear_attribute_stats: SUPERUSER,
  pg_clear_relation_stats: SUPERUSER,
  pg_restore_attribute_stats: SUPERUSER,
  pg_restore_relation_stats: SUPERUSER,
  pg_stop_making_pinned_objects: SUPERUSER,
  pg_nextoid: SUPERUSER,
  brin_summarize_new_values: SUPERUSER,
  brin_summarize_range: SUPERUSER,
  brin_desummarize_range: SUPERUSER,
  gin_clean_pending_list: SUPERUSER,
  pg_extension_config_dump: SUPERUSER,
  // Writes to large objects (lo_import is file-access above).
  lo_create: LARGE_OBJECT,
  lo_creat: LARGE_OBJECT,
  lo_from_bytea: LARGE_OBJECT,
  lo_put: LARGE_OBJECT,
  lo_unlink: LARGE_OBJECT,
  lo_truncate: LARGE_OBJECT,
  lo_truncate64: LARGE_OBJECT,
  lowrite: LARGE_OBJECT,
  pg_notify: risk('notify', 'write'),
  // Stable in the catalog, yet they assign the transaction an id: a reader's SELECT would consume xids.
  txid_current: VOLATILE,
  pg_current_xact_id: VOLATILE,
});

/** Families by name prefix. */
const PREFIX_RISKS: readonly (readonly [string, FunctionRisk])[] = [
  ['dblink', REMOTE],
  ['postgres_fdw_', REMOTE],
  ['pg_ls_', FILE],
  ['pg_file_', FILE],
  ['pg_stat_reset', SUPERUSER],
  ['pg_replication_origin_', SUPERUSER],
  ['binary_upgrade_', SUPERUSER],
  ['pg_advisory_', risk('advisory-lock', 'write')],
  ['pg_try_advisory_', risk('advisory-lock', 'write')],
];

/** Volatile built-ins reviewed as plain reads: they change nothing another session or a later statement could see. */
export const VOLATILE_READS: ReadonlySet<string> = new Set([
  'random',
  'random_normal',
  'setseed',
  'gen_random_uuid',
  'uuidv4',
  'uuidv7',
  'array_sample',
  'array_shuffle',
  'clock_timestamp',
  'timeofday',
  'current_query',
  'currval',
  'lastval',
  'lo_get',
  'pg_sleep',
  'pg_sleep_for',
  'pg_sleep_until',
  // Sizes and monitoring that psql's \d+ and common tools call.
  'pg_relation_size',
  'pg_table_size',
  'pg_indexes_size',
  'pg_total_relation_size',
  'pg_database_size',
  'pg_tablespace_size',
  'pg_is_in_recovery',
  'pg_jit_available',
  'pg_lock_status',
  'pg_blocking_pids',
  'pg_safe_snapshot_blocking_pids',
  'pg_partition_tree',
  'pg_partition_ancestors',
  'pg_sequence_last_value',
  'pg_notification_queue_usage',
  'pg_collation_actual_version',
  'pg_database_collation_actual_version',
  'pg_get_wait_events',
  'pg_current_wal_lsn',
  'pg_current_wal_insert_lsn',
  'pg_current_wal_flush_lsn',
  'pg_last_wal_receive_lsn',
  'pg_last_wal_replay_lsn',
  'pg_last_xact_replay_timestamp',
  'pg_last_committed_xact',
  'pg_is_wal_replay_paused',
  'pg_get_wal_replay_pause_state',
  'pg_xact_status',
  'txid_status',
  'pg_xact_commit_timestamp',
  'pg_xact_commit_timestamp_origin',
  'pg_stat_have_stats',
  'pg_stat_get_io',
  'pg_stat_get_backend_io',
  'pg_stat_get_backend_wal',
  'pg_stat_get_recovery_prefetch',
]);

/** Volatile pg_stat_get_xact_* counters read the transaction's own statistics. */
export const VOLATILE_READ_PREFIXES: readonly string[] = ['pg_stat_get_xact_'];

/**
 * The risk of calling `schema.name(...)` (schema undefined when unqualified), or undefined when the call is a plain
 * read. `set_config` is not decided here (its setting decides, see sql-settings.ts).
 */
export function functionRisk(
  schema: string | undefined,
  name: string,
  readFunctions: ReadFunctions | undefined,
): FunctionRisk | undefined {
  const lower = name.toLowerCase();
  const named = NAMED_RISKS[lower] ?? PREFIX_RISKS.find(([prefix]) => lower.startsWith(prefix))?.[1];
  if (named !== undefined) return named;
  if (readFunctions?.allows(schema, name)) return undefined;
  // A name qualified with another schema is a user function, whatever it is called.
  const volatility = schema === undefined || schema === 'pg_catalog' ? BUILTINS[name] : undefined;
  if (volatility === undefined) return UNKNOWN;
  if (volatility !== 'volatile') return undefined;
  if (VOLATILE_READS.has(name) || VOLATILE_READ_PREFIXES.some((prefix) => name.startsWith(prefix))) return undefined;
  return VOLATILE;
}

/**
 * The risk of a name used in column notation (`(expr).name`, `alias.name`): most such names are columns, so only
 * names that are built-in functions, or on the reviewed lists, count; a user function reached this way is residual.
 */
export function columnNotationRisk(name: string): FunctionRisk | undefined {
  if (BUILTINS[name] !== undefined) return functionRisk('pg_catalog', name, undefined);
  const lower = name.toLowerCase();
  return NAMED_RISKS[lower] ?? (DBLINK_ONE_ARGUMENT.has(lower) ? REMOTE : undefined);
}

/** dblink's functions that take one text argument, so column notation reaches them (`('sql').dblink_exec`). */
const DBLINK_ONE_ARGUMENT = new Set([
  'dblink',
  'dblink_exec',
  'dblink_connect',
  'dblink_connect_u',
  'dblink_disconnect',
  'dblink_get_result',
  'dblink_open',
  'dblink_fetch',
]);
