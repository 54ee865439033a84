/** Node visitors of the classifier's walk: function calls, relations read, ALTER TABLE subcommands. */
import { columnNotationRisk, functionRisk } from './function-safety.js';
import {
  type Ast,
  booleanValue,
  type Context,
  constantString,
  mostPrivileged,
  nameValue,
  nullPrototype,
  type Risks,
} from './sql-ast.js';
import { settingRisk } from './sql-settings.js';

export const VISITORS: Readonly<Record<string, (node: Ast, risks: Risks, context: Context) => void>> = nullPrototype({
  FuncCall: visitFunctionCall,
  RangeVar: visitRelation,
  // `alias.fn` and `(expr).fn` call fn(alias) and fn(expr) when no column is named fn.
  ColumnRef: (node, risks) => {
    const fields = Array.isArray(node['fields']) ? node['fields'] : [];
    if (fields.length >= 2) visitColumnNotation(fields[fields.length - 1], risks);
  },
  A_Indirection: (node, risks) => {
    for (const item of Array.isArray(node['indirection']) ? node['indirection'] : []) visitColumnNotation(item, risks);
  },
  AlterTableCmd: (node, risks) => {
    if (PRIVILEGE_SUBCOMMANDS.has(String(node['subtype']))) risks.tags.add('privilege-change');
  },
});

/** ALTER TABLE subcommands that change who may see what. */
const PRIVILEGE_SUBCOMMANDS = new Set(['AT_ChangeOwner', 'AT_DisableRowSecurity', 'AT_NoForceRowSecurity']);

/**
 * Built-in views that read the server's files (configuration, authentication rules, build paths, extension control
 * files) when queried: reading them is file access, not a read of the database.
 */
const FILE_VIEWS = new Set([
  'pg_file_settings',
  'pg_hba_file_rules',
  'pg_ident_file_mappings',
  'pg_config',
  'pg_available_extensions',
  'pg_available_extension_versions',
]);

function visitRelation(node: Ast, risks: Risks): void {
  const schema = node['schemaname'];
  // Unqualified, such a name resolves to pg_catalog's view unless a schema before it has one (tagged all the same).
  if ((schema === undefined || schema === 'pg_catalog') && FILE_VIEWS.has(String(node['relname']))) {
    risks.tags.add('file-access');
    risks.floor = mostPrivileged(risks.floor, 'admin');
  }
}

function visitFunctionCall(node: Ast, risks: Risks, context: Context): void {
  risks.callsFunctions = true;
  const name = qualifiedName(node['funcname']);
  if (name === undefined) {
    risks.tags.add('unknown-function');
    risks.floor = mostPrivileged(risks.floor, 'write');
    return;
  }
  if (name.name === 'set_config' && (name.schema === undefined || name.schema === 'pg_catalog')) {
    visitSetConfig(node['args'], risks);
    return;
  }
  const risk = functionRisk(name.schema, name.name, context.options.readFunctions);
  if (risk === undefined) return;
  risks.tags.add(risk.tag);
  risks.floor = mostPrivileged(risks.floor, risk.kind);
}

function visitColumnNotation(field: unknown, risks: Risks): void {
  const name = nameValue(field);
  const risk = name === undefined ? undefined : columnNotationRisk(name);
  if (risk === undefined) return;
  risks.callsFunctions = true;
  risks.tags.add(risk.tag);
  risks.floor = mostPrivileged(risks.floor, risk.kind);
}

/** `set_config(name, value, local)` is SET by another name; a name that is not a constant could be `role`. */
function visitSetConfig(args: unknown, risks: Risks): void {
  const list = Array.isArray(args) ? args : [];
  const setting = constantString(list[0]);
  const found =
    setting === undefined
      ? { kind: 'admin' as const, tags: ['role-change' as const] }
      : settingRisk(setting, { type: 'value', text: constantString(list[1]), boolean: booleanValue(list[1]) });
  for (const tag of found.tags) risks.tags.add(tag);
  risks.floor = mostPrivileged(risks.floor, found.kind);
}

/** `[schema.]name` of a call, as the parser keeps it (unquoted names folded to lower case); a.b.c: schema b. */
function qualifiedName(funcname: unknown): { schema: string | undefined; name: string } | undefined {
  if (!Array.isArray(funcname) || funcname.length === 0) return undefined;
  const name = nameValue(funcname[funcname.length - 1]);
  if (name === undefined) return undefined;
  const schema = funcname.length > 1 ? nameValue(funcname[funcname.length - 2]) : undefined;
  if (funcname.length > 1 && schema === undefined) return undefined;
  return { schema, name };
}
