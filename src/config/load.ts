import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument } from 'yaml';
import { GatehouseError } from '../core/errors.js';
import { closestKey, knownKeysAt } from './key-suggestions.js';
import { configSchema, type GatehouseConfig } from './schema.js';
import { resolveSecretReferences } from './secrets.js';

export interface ConfigIssue {
  /** Dotted path in the file, e.g. `resources[0].policy[1].allow[0]`. */
  readonly path: string;
  /** 1-based line in the file, when the path exists there. */
  readonly line?: number;
  /** 1-based column, with the line. */
  readonly column?: number;
  readonly message: string;
}

export class ConfigError extends GatehouseError {
  readonly issues: readonly ConfigIssue[];
  readonly file: string;

  constructor(file: string, issues: ConfigIssue[]) {
    const lines = issues.map((i) => `  ${formatIssue(file, i)}`);
    super('config.invalid', `invalid configuration in ${file}:\n${lines.join('\n')}`);
    this.issues = issues;
    this.file = file;
  }
}

/** `file:line:column: path: message`, the shape editors and CI annotations understand. */
export function formatIssue(file: string, issue: ConfigIssue): string {
  const at =
    issue.line === undefined ? file : `${file}:${issue.line}${issue.column === undefined ? '' : `:${issue.column}`}`;
  return `${at}: ${issue.path ? `${issue.path}: ` : ''}${issue.message}`;
}

export interface LoadedConfig {
  readonly config: GatehouseConfig;
  readonly file: string;
  /** Directory relative paths in the config (store, key files) resolve against. */
  readonly baseDir: string;
  /** Where a path of the config is written in the file, for checks made after loading. */
  readonly positionOf?: (path: readonly PropertyKey[]) => { line?: number; column?: number };
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
      {
        path: '',
        message:
          (error as NodeJS.ErrnoException).code === 'ENOENT'
            ? 'no such file: give -c FILE, or set GATEHOUSE_CONFIG'
            : `cannot read the file (${(error as NodeJS.ErrnoException).code})`,
      },
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
      document.errors.map((e) => ({
        path: '',
        ...positionAt(e.pos[0], lineCounter),
        // The first line of yaml's message says what is wrong; the rest repeats the position.
        message: `YAML syntax error: ${(e.message.split('\n')[0] ?? e.code).replace(/ at line \d+, column \d+:?$/, '')}`,
      })),
    );
  }
  const baseDir = dirname(file);
  const positionOf = (path: readonly PropertyKey[]): { line?: number; column?: number } => {
    const node = nodeAt(document.contents, path);
    if (!node?.range) return {};
    const { line, col } = lineCounter.linePos(node.range[0]);
    return { line, column: col };
  };

  const resolved = resolveSecretReferences(document.toJS() ?? {}, { env, baseDir });
  if (resolved.issues.length > 0) {
    throw new ConfigError(
      file,
      resolved.issues.map((i) => ({ path: formatPath(i.path), ...positionOf(i.path), message: i.message })),
    );
  }
  const parsed = configSchema.safeParse(resolved.value);
  if (!parsed.success) {
    throw new ConfigError(
      file,
      parsed.error.issues
        .flatMap((issue): ConfigIssue[] => {
          if (issue.code === 'unrecognized_keys') {
            // One issue per unknown key, at the key itself, with the key probably meant.
            const known = knownKeysAt(issue.path);
            return issue.keys.map((key) => {
              const suggestion = closestKey(key, known);
              return {
                path: formatPath([...issue.path, key]),
                ...positionOfKey(document.contents, issue.path, key, lineCounter),
                message: `unknown key "${key}"${suggestion === undefined ? '' : ` (did you mean "${suggestion}"?)`}`,
              };
            });
          }
          // zod messages describe the expectation, never the received value, so secrets are not echoed.
          return [{ path: formatPath(issue.path), ...positionOf(issue.path), message: issue.message }];
        })
        .sort((a, b) => (a.line ?? 0) - (b.line ?? 0)),
    );
  }
  return { config: parsed.data, file, baseDir, positionOf };
}

function positionAt(offset: number, lineCounter: LineCounter): { line: number; column: number } {
  const { line, col } = lineCounter.linePos(offset);
  return { line, column: col };
}

function positionOfKey(
  root: unknown,
  path: readonly PropertyKey[],
  key: string,
  lineCounter: LineCounter,
): { line?: number; column?: number } {
  const parent = nodeAt(root, path);
  const pair = isMap(parent) ? parent.items.find((item) => isScalar(item.key) && item.key.value === key) : undefined;
  const range = (pair?.key as Node | undefined)?.range ?? parent?.range;
  if (!range) return {};
  const { line, col } = lineCounter.linePos(range[0]);
  return { line, column: col };
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
