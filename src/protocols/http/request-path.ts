/**
 * Splits and percent-decodes a request path once, so routing and classification see what the upstream will see.
 * Encoded slashes and dot segments are refused: they are how `/llm/%2e%2e/admin` style requests slip past prefix
 * routing or per-path policy.
 */
export interface RequestPath {
  /** Decoded segments, e.g. `['llm', 'v1', 'chat', 'completions']`. */
  readonly segments: readonly string[];
  /** The raw path as sent (no query), forwarded as is. */
  readonly raw: string;
  /** Raw query string including `?`, or ''. */
  readonly query: string;
}

export function parseRequestPath(url: string): RequestPath | undefined {
  if (!url.startsWith('/')) return undefined;
  const queryAt = url.indexOf('?');
  const raw = queryAt === -1 ? url : url.slice(0, queryAt);
  const query = queryAt === -1 ? '' : url.slice(queryAt);
  if (raw.includes('\\') || raw.includes('#')) return undefined;
  const segments: string[] = [];
  const parts = raw.split('/');
  for (let index = 1; index < parts.length; index++) {
    const part = parts[index] as string;
    if (part === '' && index < parts.length - 1) return undefined; // `//` is ambiguous across upstreams
    let decoded: string;
    try {
      decoded = decodeURIComponent(part);
    } catch {
      return undefined;
    }
    if (decoded === '.' || decoded === '..' || decoded.includes('/') || decoded.includes('\\')) return undefined;
    if (part !== '' || index < parts.length - 1) segments.push(decoded);
  }
  return { segments, raw, query };
}
