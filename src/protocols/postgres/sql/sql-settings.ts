/**
 * Which settings a reader may change: an allow-list. SET, RESET and set_config of a harmless parameter are session
 * control; the settings that decide how the server reads SQL text may only keep the value the gateway reads with;
 * the read-only and role settings keep their own rules; every other parameter (log_statement, search_path,
 * session_preload_libraries..., and custom ones such as `app.tenant_id`, which row-level security policies may trust)
 * is admin.
 */
import type { OperationKind, RiskTag } from '../../../core/operation.js';
import { READ_ONLY_SETTINGS, ROLE_SETTINGS } from './sql-ast.js';

/** A setting's new value as the classifier could read it. */
export type SettingValue =
  /** RESET, SET ... TO DEFAULT: back to the session's start-up value. */
  | { readonly type: 'default' }
  /** A constant (text as written, or a boolean read the way PostgreSQL reads it), or undefined when not a constant. */
  | { readonly type: 'value'; readonly text: string | undefined; readonly boolean: boolean | undefined };

export interface SettingRisk {
  readonly kind: OperationKind;
  readonly tags: readonly RiskTag[];
}

const SESSION: SettingRisk = { kind: 'session', tags: [] };
const ADMIN: SettingRisk = { kind: 'admin', tags: [] };
const PARSER: SettingRisk = { kind: 'admin', tags: ['parser-setting'] };

/**
 * Parameters any value of which is harmless: formatting, timeouts, memory for sorts and the planner's choices.
 * search_path is not here: it changes which function or table a name resolves to.
 */
const HARMLESS = new Set([
  'application_name',
  'statement_timeout',
  'lock_timeout',
  'idle_in_transaction_session_timeout',
  'idle_session_timeout',
  'transaction_timeout',
  'datestyle',
  'intervalstyle',
  'timezone',
  'extra_float_digits',
  'bytea_output',
  'client_min_messages',
  'escape_string_warning',
  'xmlbinary',
  'xmloption',
  'lc_monetary',
  'lc_numeric',
  'lc_time',
  'default_text_search_config',
  'array_nulls',
  'quote_all_identifiers',
  'default_transaction_isolation',
  'transaction_isolation',
  'default_transaction_deferrable',
  'transaction_deferrable',
  'work_mem',
  'hash_mem_multiplier',
  'temp_buffers',
  'maintenance_work_mem',
  'effective_cache_size',
  'effective_io_concurrency',
  'constraint_exclusion',
  'cursor_tuple_fraction',
  'from_collapse_limit',
  'join_collapse_limit',
  'default_statistics_target',
  'plan_cache_mode',
  'jit',
  'max_parallel_workers_per_gather',
  'parallel_leader_participation',
  'min_parallel_table_scan_size',
  'min_parallel_index_scan_size',
  'gin_fuzzy_search_limit',
  'geqo',
  'geqo_threshold',
  'geqo_effort',
  'geqo_pool_size',
  'geqo_generations',
  'geqo_selection_bias',
  'geqo_seed',
  'recursive_worktable_factor',
  // pgvector's index scan settings: recall against speed of a vector search.
  'hnsw.ef_search',
  'hnsw.iterative_scan',
  'hnsw.max_scan_tuples',
  'hnsw.scan_mem_multiplier',
  'ivfflat.probes',
  'ivfflat.iterative_scan',
  'ivfflat.max_probes',
]);

/** Planner switches and costs: enable_seqscan, random_page_cost, jit_above_cost... */
const HARMLESS_PATTERNS = [/^enable_[a-z_]+$/, /^[a-z_]+_cost$/];

/** Spellings PostgreSQL accepts for UTF8 once it drops everything but letters and digits (clean_encoding_name). */
const UTF8_NAMES = new Set(['utf8', 'unicode']);

/** backslash_quote values that do not let `\'` end a string where the gateway's parser would not. */
const SAFE_BACKSLASH_QUOTE = new Set(['off', 'false', 'no', '0', 'safe_encoding']);

export function settingRisk(parameter: string, value: SettingValue): SettingRisk {
  const name = parameter.toLowerCase();
  if (ROLE_SETTINGS.has(name)) return { kind: 'admin', tags: ['role-change'] };
  if (READ_ONLY_SETTINGS.has(name)) {
    // Only an explicit true keeps the session read-only; off, DEFAULT, RESET or anything unclear leave it.
    return value.type === 'value' && value.boolean === true ? SESSION : { kind: 'write', tags: [] };
  }
  // Back to the start-up value: the gateway chose the parser settings, and a reader set nothing else.
  if (value.type === 'default') return SESSION;
  if (name === 'client_encoding') {
    const cleaned = value.text?.toLowerCase().replace(/[^a-z0-9]/g, '');
    return cleaned !== undefined && UTF8_NAMES.has(cleaned) ? SESSION : PARSER;
  }
  if (name === 'standard_conforming_strings') return value.boolean === true ? SESSION : PARSER;
  if (name === 'backslash_quote') {
    const text = value.text?.trim().toLowerCase();
    return text !== undefined && SAFE_BACKSLASH_QUOTE.has(text) ? SESSION : PARSER;
  }
  if (HARMLESS.has(name) || HARMLESS_PATTERNS.some((pattern) => pattern.test(name))) return SESSION;
  return ADMIN;
}
