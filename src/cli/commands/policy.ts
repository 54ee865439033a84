import type { Command } from 'commander';
import type { ResourceConfig } from '../../config/schema.js';
import type { Operation } from '../../core/operation.js';
import { readFunctionsOf } from '../../protocols/postgres/sql/read-functions.js';
import { EXIT, usageError } from '../exit-codes.js';
import { loadConfigOption, withConfigOption } from '../options.js';

interface ExplainOptions {
  config: string;
  resource: string;
  groups: string;
  subject?: string;
  claim: string[];
  http?: string;
  sql?: string;
  model?: string;
}

/** Exit code per verdict, so `policy explain` can gate a CI step. */
const VERDICT_EXIT: Readonly<Record<string, number>> = Object.assign(Object.create(null), {
  allow: EXIT.ok,
  deny: EXIT.deny,
  review: EXIT.review,
});

export function registerPolicyCommands(program: Command): void {
  const policy = program.command('policy').description('inspect policy decisions');
  withConfigOption(
    policy
      .command('explain')
      .description(
        'classify an operation and print the decision and the rule that made it, as JSON; exit 0 allow, 3 deny, 4 review',
      ),
  )
    .requiredOption('--resource <name>', 'resource name')
    .option('--groups <list>', 'comma-separated groups of the caller', '')
    .option('--subject <subject>', 'subject of the caller (for rules with subjects:)')
    .option(
      '--claim <path=value>',
      'a claim of the caller, repeatable (for rules with claims:)',
      (value: string, previous: string[]) => [...previous, value],
      [] as string[],
    )
    .option('--http <request>', 'an HTTP request: "METHOD /path"')
    .option('--sql <statement>', 'one or more SQL statements')
    .option('--model <name>', 'model named in an inference request body')
    .action(async (options: ExplainOptions) => {
      const { config } = loadConfigOption(options);
      const resource = config.resources.find((r) => r.name === options.resource);
      if (!resource) {
        const names = config.resources.map((r) => r.name).join(', ') || 'none';
        throw usageError(`--resource: no resource named "${options.resource}" (resources in the config: ${names})`);
      }
      if ((options.http === undefined) === (options.sql === undefined))
        throw usageError('give exactly one of --http "METHOD /path" or --sql "STATEMENT"');
      const operation =
        options.http !== undefined
          ? await explainHttp(resource, options.http, options.model)
          : await explainSql(resource, options.sql as string);
      const groups = options.groups
        .split(',')
        .map((g) => g.trim())
        .filter(Boolean);
      const claims = parseClaims(options.claim);
      const { PolicyEngine } = await import('../../policy/engine.js');
      const decision = new PolicyEngine(config.resources).decide(operation, {
        identity: { groups, claims, ...(options.subject === undefined ? {} : { subject: options.subject }) },
      });
      const out = {
        resource: resource.name,
        groups,
        ...(options.subject === undefined ? {} : { subject: options.subject }),
        ...(options.claim.length === 0 ? {} : { claims }),
        operation,
        decision: decision.verdict,
        reason: decision.reason,
        rule: decision.rule,
        message: decision.message,
      };
      process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
      process.exitCode = VERDICT_EXIT[decision.verdict] ?? EXIT.failure;
    });
}

/** `path=value` flags as flat claims; a path with dots names a nested claim, as in the config. */
function parseClaims(flags: readonly string[]): Record<string, unknown> {
  const claims: Record<string, unknown> = Object.create(null);
  for (const flag of flags) {
    const at = flag.indexOf('=');
    if (at <= 0) throw usageError(`--claim: expected path=value, got "${flag}"`);
    const path = flag.slice(0, at);
    // A bracketed or dotted path builds the nested object it names.
    let node = claims;
    const keys = splitPath(path);
    keys.slice(0, -1).forEach((key) => {
      if (typeof node[key] !== 'object' || node[key] === null) node[key] = Object.create(null);
      node = node[key] as Record<string, unknown>;
    });
    node[keys[keys.length - 1] as string] = flag.slice(at + 1);
  }
  return claims;
}

function splitPath(path: string): string[] {
  const keys: string[] = [];
  for (const match of path.matchAll(/\[(["'])(.*?)\1\]|([^.[\]]+)/g)) keys.push((match[2] ?? match[3]) as string);
  if (keys.length === 0) throw usageError(`--claim: "${path}" is not a claim path`);
  return keys;
}

async function explainHttp(resource: ResourceConfig, request: string, model: string | undefined): Promise<Operation> {
  if (resource.protocol !== 'http')
    throw usageError(`--http: resource "${resource.name}" speaks ${resource.protocol}; use --sql`);
  const [{ HttpClassifier }, { parseRequestPath }] = await Promise.all([
    import('../../protocols/http/classify.js'),
    import('../../protocols/http/request-path.js'),
  ]);
  const match = /^\s*([A-Za-z]+)\s+(\/\S*)\s*$/.exec(request);
  const path = match ? parseRequestPath(match[2] as string) : undefined;
  if (!match || !path) throw usageError('--http: expected "METHOD /path", e.g. "POST /v1/chat/completions"');
  const prefix = resource.pathPrefix?.split('/').slice(1) ?? [];
  const hasPrefix = prefix.length > 0 && prefix.every((segment, index) => path.segments[index] === segment);
  const shape = {
    method: (match[1] as string).toUpperCase(),
    segments: hasPrefix ? path.segments.slice(prefix.length) : path.segments,
  };
  const classifier = new HttpClassifier(resource.name, resource.operations, {
    ...(resource.profile === undefined ? {} : { profile: resource.profile }),
    target: resource.target,
  });
  return classifier.toOperation(shape, classifier.classify(shape), model === undefined ? {} : { model });
}

async function explainSql(resource: ResourceConfig, sql: string): Promise<Operation> {
  if (resource.protocol !== 'postgres')
    throw usageError(`--sql: resource "${resource.name}" speaks ${resource.protocol}; use --http`);
  const { classifySql, loadSqlClassifier, toOperation } = await import('../../protocols/postgres/sql/classify.js');
  await loadSqlClassifier();
  const readFunctions = readFunctionsOf(resource);
  return toOperation(resource.name, classifySql(sql, readFunctions === undefined ? {} : { readFunctions }), sql);
}
