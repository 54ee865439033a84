import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

/**
 * Secret references inside any string of the config: `${env:NAME}`, `${env:NAME:-fallback}` and `${file:PATH}`
 * (relative to the config file). Resolved once at load, so secrets never need to be written inline and never appear in error messages.
 */
const REFERENCE = /\$\{(env|file):([^}]+)\}/g;

export interface SecretIssue {
  readonly path: (string | number)[];
  readonly message: string;
}

export interface SecretContext {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly baseDir: string;
}

/** Returns a deep copy of `value` with every reference replaced, plus one issue per reference that cannot be resolved. */
export function resolveSecretReferences(
  value: unknown,
  context: SecretContext,
): { value: unknown; issues: SecretIssue[] } {
  const issues: SecretIssue[] = [];
  const walk = (node: unknown, path: (string | number)[]): unknown => {
    if (typeof node === 'string') return resolveString(node, path, context, issues);
    if (Array.isArray(node)) return node.map((item, index) => walk(item, [...path, index]));
    if (node !== null && typeof node === 'object') {
      const out: Record<string, unknown> = {};
      for (const [key, child] of Object.entries(node)) out[key] = walk(child, [...path, key]);
      return out;
    }
    return node;
  };
  return { value: walk(value, []), issues };
}

function resolveString(text: string, path: (string | number)[], context: SecretContext, issues: SecretIssue[]): string {
  return text.replace(REFERENCE, (_match, source: string, name: string) => {
    if (source === 'env') {
      const [variable, fallback] = splitFallback(name);
      const found = context.env[variable] || fallback;
      if (found === undefined) issues.push({ path, message: `environment variable ${variable} is not set` });
      return found ?? '';
    }
    try {
      return readFileSync(resolve(context.baseDir, name), 'utf8').trim();
    } catch (error) {
      const why = (error as NodeJS.ErrnoException).code ?? 'unreadable';
      issues.push({ path, message: `secret file ${name} cannot be read (${why})` });
      return '';
    }
  });
}

function splitFallback(reference: string): [string, string | undefined] {
  const at = reference.indexOf(':-');
  return at === -1 ? [reference, undefined] : [reference.slice(0, at), reference.slice(at + 2)];
}
