/**
 * Normalises a request path once, so routing, classification, policy and the upstream all see the same path:
 * segments are percent-decoded (so `/ap%69/v1/x` is `/api/v1/x`), and the path sent upstream is rebuilt from those
 * decoded segments (`upstreamPath`), never cut out of the raw path. Anything different upstreams read differently is
 * refused rather than guessed at: dot segments, encoded slashes and backslashes, empty segments (`//`), `;`
 * parameters (Tomcat and Spring strip them, most others keep them), control characters and bad escapes.
 */
export interface RequestPath {
  /** Decoded segments, e.g. `['llm', 'v1', 'chat', 'completions']`. */
  readonly segments: readonly string[];
  /** The raw path as sent (no query): the approval record's exact request, never forwarded. */
  readonly raw: string;
  /** Raw query string including `?`, or ''. */
  readonly query: string;
}

/** Decoded characters no segment may hold: separators other servers split on, and controls. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what is refused here
const REFUSED_IN_SEGMENT = /[/\\;\u0000-\u001f\u007f]/;

export function parseRequestPath(url: string): RequestPath | undefined {
  if (!url.startsWith('/')) return undefined;
  const queryAt = url.indexOf('?');
  const raw = queryAt === -1 ? url : url.slice(0, queryAt);
  const query = queryAt === -1 ? '' : url.slice(queryAt);
  if (raw.includes('\\') || raw.includes('#') || raw.includes(';')) return undefined;
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
    if (decoded === '.' || decoded === '..' || REFUSED_IN_SEGMENT.test(decoded)) return undefined;
    if (part !== '' || index < parts.length - 1) segments.push(decoded);
  }
  return { segments, raw, query };
}

/**
 * The path to send upstream: the decoded segments below the resource's prefix, each re-encoded one canonical way
 * (RFC 3986 `pchar`: unreserved characters and `:@!$&'()*,=` as they are, everything else percent-encoded, `+`
 * included since some servers read it as a space), a trailing slash kept, then the query as the gateway parsed it
 * (re-serialised, so the upstream reads the same parameters the profile read).
 */
export function upstreamPath(path: RequestPath, prefixSegments: number): string {
  const below = path.segments.slice(prefixSegments);
  const trailing = path.raw.endsWith('/') && path.raw.length > 1 && below.length > 0 ? '/' : '';
  const query = new URLSearchParams(path.query).toString();
  return `/${below.map(encodeSegment).join('/')}${trailing}${query === '' ? '' : `?${query}`}`;
}

const KEPT_ESCAPES: Readonly<Record<string, string>> = Object.assign(Object.create(null), {
  '%3A': ':',
  '%40': '@',
  '%24': '$',
  '%26': '&',
  '%2C': ',',
  '%3D': '=',
});

function encodeSegment(segment: string): string {
  return encodeURIComponent(segment).replace(/%(?:3A|40|24|26|2C|3D)/g, (kept) => KEPT_ESCAPES[kept] as string);
}
