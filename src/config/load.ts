import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { isMap, isSeq, LineCounter, type Node, parseDocument } from 'yaml';
import { GatehouseError } from '../core/errors.js';
import { configSchema, type GatehouseConfig } from './schema.js';
import { resolveSecretReferences } from './secrets.js';

export interface ConfigIssue {
  /** Dotted path in the file, e.g. `resources[0].policy[1].allow[0]`. */
  readonly path: string;
  /** 1-based line in the file, when the path exists there. */
  readonly line?: number;
  readonly message: string;
}

export class ConfigError extends GatehouseError {
  readonly issues: readonly ConfigIssue[];
  readonly file: string;

  constructor(file: string, issues: ConfigIssue[]) {
    const lines = issues.map((i) => `  ${i.path || '(root)'}${i.line ? ` (line ${i.line})` : ''}: ${i.message}`);
    super('config.invalid', `invalid configuration in ${file}:\n${lines.join('\n')}`);
    this.issues = issues;
    this.file = file;
  }
}

export interface LoadedConfig {
  readonly config: GatehouseConfig;
  readonly file: string;
  /** Directory relative paths in the config (store, key files) resolve against. */
  readonly baseDir: string;
}

export function loadConfigFile(
  file: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): LoadedConfig {
  const absolute = resolve(file);
  let text: string;
  try {
    text = readFileSync(absolute, 'utf8');
  } catch (error) {
    throw new ConfigError(file, [
      { path: '', message: `cannot read the file (${(error as NodeJS.ErrnoException).code})` },
    ]);
  }
  return parseConfig(text, absolute, env);
}

export function parseConfig(
  text: string,
  file: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): LoadedConfig {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (document.errors.length > 0) {
    throw new ConfigError(
      file,
      document.errors.map((e) => ({ path: '', line: e.linePos?.[0]?.line, message: `YAML syntax: ${e.code}` })),
    );
  }
  const baseDir = dirname(file);
  const lineOf = (path: readonly PropertyKey[]): number | undefined => {
    const node = nodeAt(document.contents, path);
    return node?.range ? lineCounter.linePos(node.range[0]).line : undefined;
  };

  const resolved = resolveSecretReferences(document.toJS() ?? {}, { env, baseDir });
  if (resolved.issues.length > 0) {
    throw new ConfigError(
      file,
      resolved.issues.map((i) => ({ path: formatPath(i.path), line: lineOf(i.path), message: i.message })),
    );
  }
  const parsed = configSchema.safeParse(resolved.value);
  if (!parsed.success) {
    throw new ConfigError(
      file,
      parsed.error.issues.map((issue) => ({
        path: formatPath(issue.path),
        line: lineOf(issue.path),
        // zod messages describe the expectation, never the received value, so secrets are not echoed.
        message: issue.message,
      })),
    );
  }
  return { config: parsed.data, file, baseDir };
}

function nodeAt(root: unknown, path: readonly PropertyKey[]): Node | undefined {
  let node = root as Node | undefined;
  let deepest = node;
  for (const key of path) {
    if (isMap(node)) node = node.get(key, true) as Node | undefined;
    else if (isSeq(node) && typeof key === 'number') node = node.get(key, true) as Node | undefined;
    else node = undefined;
    if (node === undefined) return deepest;
    deepest = node;
  }
  return node;
}

export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) out += typeof key === 'number' ? `[${key}]` : `${out ? '.' : ''}${String(key)}`;
  return out;
}
