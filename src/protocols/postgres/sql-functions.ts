/** Risk tags from function calls (file access, remote access, superuser functions, set_config) and ALTER TABLE subcommands. */
import type { RiskTag } from '../../core/operation.js';
import {
  type Ast,
  constantString,
  isTrue,
  mostPrivileged,
  nameValue,
  nullPrototype,
  READ_ONLY_SETTINGS,
  type Risks,
  ROLE_SETTINGS,
} from './sql-ast.js';

// ---------------------------------------------------------------------------------------------------------------
// Node visitors: function calls and ALTER TABLE subcommands

export const VISITORS: Readonly<Record<string, (node: Ast, risks: Risks) => void>> = nullPrototype({
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
  risks.callsFunctions = true;
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
  return nameValue(funcname[funcname.length - 1])?.toLowerCase();
}
