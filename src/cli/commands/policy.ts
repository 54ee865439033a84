import type { Command } from 'commander';
import type { ResourceConfig } from '../../config/schema.js';
import type { Operation } from '../../core/operation.js';
import { PolicyEngine } from '../../policy/engine.js';
import { HttpClassifier } from '../../protocols/http/classify.js';
import { parseRequestPath } from '../../protocols/http/request-path.js';
import { classifySql, loadSqlClassifier, toOperation } from '../../protocols/postgres/classify.js';
import { readFunctionsOf } from '../../protocols/postgres/read-functions.js';
import { loadConfigOption, withConfigOption } from '../options.js';

interface ExplainOptions {
  config: string;
  resource: string;
  groups: string;
  http?: string;
  sql?: string;
  model?: string;
}

export function registerPolicyCommands(program: Command): void {
  const policy = program.command('policy').description('inspect policy decisions');
  withConfigOption(
    policy
      .command('explain')
      .description('classify an operation and print the decision and the rule that made it, as JSON'),
  )
    .requiredOption('--resource <name>', 'resource name')
    .option('--groups <list>', 'comma-separated groups of the caller', '')
    .option('--http <request>', 'an HTTP request: "METHOD /path"')
    .option('--sql <statement>', 'one or more SQL statements')
    .option('--model <name>', 'model named in an inference request body')
    .action(async (options: ExplainOptions) => {
      const { config } = loadConfigOption(options);
      const resource = config.resources.find((r) => r.name === options.resource);
      if (!resource) throw new Error(`--resource: no resource named "${options.resource}"`);
      if ((options.http === undefined) === (options.sql === undefined))
        throw new Error('give exactly one of --http or --sql');
      const operation =
        options.http !== undefined
          ? explainHttp(resource, options.http, options.model)
          : await explainSql(resource, options.sql as string);
      const groups = options.groups
        .split(',')
        .map((g) => g.trim())
        .filter(Boolean);
      const decision = new PolicyEngine(config.resources).decide(operation, { identity: { groups } });
      const out = {
        resource: resource.name,
        groups,
        operation,
        decision: decision.verdict,
        reason: decision.reason,
        rule: decision.rule,
        message: decision.message,
      };
      process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    });
}

function explainHttp(resource: ResourceConfig, request: string, model: string | undefined): Operation {
  if (resource.protocol !== 'http') throw new Error(`--http: resource "${resource.name}" speaks ${resource.protocol}`);
  const match = /^\s*([A-Za-z]+)\s+(\/\S*)\s*$/.exec(request);
  const path = match ? parseRequestPath(match[2] as string) : undefined;
  if (!match || !path) throw new Error('--http: expected "METHOD /path", e.g. "POST /v1/chat/completions"');
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
    throw new Error(`--sql: resource "${resource.name}" speaks ${resource.protocol}`);
  await loadSqlClassifier();
  const readFunctions = readFunctionsOf(resource);
  return toOperation(resource.name, classifySql(sql, readFunctions === undefined ? {} : { readFunctions }), sql);
}
