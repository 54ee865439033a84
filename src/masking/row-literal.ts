/**
 * Masking inside PostgreSQL's text forms of rows and arrays: `(1,"mary@x.com",,"say ""hi""")` and
 * `{"(1,\"a b\")",NULL}`. Their quoting doubles or backslash-escapes quotes at every level of nesting, so a value
 * scanned as it is rendered is not the value that was stored (`password=""x""` in a row, `\"\"` in an array of
 * rows), and a detector that reads context misses it. Each value is unescaped, masked, and the literal rendered
 * again in the server's own quoting; a field of a table's row can be masked by its column rule.
 * Hand-written: no maintained npm package parses composite literals (pg's parser reads arrays only, and does not
 * render them); the grammar is small and documented.
 * https://www.postgresql.org/docs/current/rowtypes.html#ROWTYPES-IO-SYNTAX
 * https://www.postgresql.org/docs/current/arrays.html#ARRAYS-IO
 */

/** How the values found inside a literal are masked. */
export interface LiteralMasking {
  /**
   * A field of the top-level row (or of each row of a top-level array of rows) by its position, masked whole by its
   * column rule; undefined when no rule applies (its value is then looked into and masked by content).
   */
  field?(index: number, value: string): string | undefined;
  /**
   * The text values found inside the literal (not themselves rows or arrays), masked by content, in order: all at
   * once, so that a row's many short values cost one scan (see `Redactor.maskEach`).
   */
  texts(values: readonly string[]): readonly string[];
}

type TextNode = { readonly kind: 'text'; readonly value: string };
type Node =
  | TextNode
  | { readonly kind: 'row'; readonly fields: (Node | null)[] }
  /** `bare`: a sub-array of a multi-dimensional array, written unquoted (an array inside an element is quoted). */
  | { readonly kind: 'array'; readonly prefix: string; readonly items: (Node | null)[]; readonly bare: boolean };

/** Deepest nesting followed; deeper literals are masked as text, as they are rendered. */
const MAX_DEPTH = 16;

/**
 * `text` with every value inside it masked, or undefined when it is not a row or array literal (the caller scans it
 * as text). A value that looks like a nested literal but does not parse as one is masked as text. The original
 * text is returned when nothing changed; else the literal is rendered again around the masked values.
 */
export function maskLiteral(text: string, masking: LiteralMasking): string | undefined {
  const node = parseLiteral(text, 0);
  if (node === undefined) return undefined;
  /** What replaces a node when the literal is rendered: fields masked by their rule, and masked text values. */
  const replaced = new Map<Node, string>();
  const leaves: TextNode[] = [];
  collect(node, masking, true, replaced, leaves);
  if (leaves.length > 0) {
    const values = leaves.map((leaf) => leaf.value);
    const masked = masking.texts(values);
    for (let i = 0; i < leaves.length; i++)
      if (masked[i] !== values[i]) replaced.set(leaves[i] as TextNode, masked[i] as string);
  }
  return replaced.size === 0 ? text : render(node, replaced);
}

/** The text values of `node` into `leaves`, in order, except fields its column rules mask whole (`replaced`). */
function collect(node: Node, masking: LiteralMasking, top: boolean, replaced: Map<Node, string>, leaves: TextNode[]) {
  if (node.kind === 'text') {
    leaves.push(node);
    return;
  }
  if (node.kind === 'array') {
    // The rows of a top-level array are rows of the same type: their fields are known as the top-level row's.
    for (const item of node.items) if (item !== null) collect(item, masking, top, replaced, leaves);
    return;
  }
  for (const [i, field] of node.fields.entries()) {
    if (field === null) continue;
    if (top && masking.field !== undefined) {
      const value = render(field, replaced);
      const ruled = masking.field(i, value);
      if (ruled !== undefined) {
        if (ruled !== value) replaced.set(field, ruled);
        continue;
      }
    }
    collect(field, masking, false, replaced, leaves);
  }
}

/** A value's node: a row or array when it parses as one, else text. */
function valueNode(value: string, depth: number): Node {
  if (depth < MAX_DEPTH && (value.startsWith('(') || value.startsWith('{') || value.startsWith('[')))
    return parseLiteral(value, depth + 1) ?? { kind: 'text', value };
  return { kind: 'text', value };
}

function parseLiteral(text: string, depth: number): Node | undefined {
  if (text.startsWith('(')) return parseRow(text, depth);
  if (text.startsWith('{') || text.startsWith('[')) return parseArray(text, depth);
  return undefined;
}

/** One value read from a literal: its text unescaped, and where the delimiter after it is. */
interface Value {
  value: string;
  end: number;
  quotedOrEscaped: boolean;
}

/** Runs of characters with no meaning: copied whole (sticky patterns, rather than one character at a time). */
const PLAIN_IN_ROW = /[^,)"\\]+/y;
const PLAIN_IN_ARRAY = /[^,}"\\]+/y;
const PLAIN_QUOTED = /[^"\\]+/y;

/**
 * Reads one value from `at` up to its delimiter (`,` or the closing bracket), undoing quotes and backslashes. In a
 * row a quote inside quotes is doubled (`""`); in an array it is backslash-escaped. Undefined when it never ends.
 */
function readValue(text: string, at: number, row: boolean): Value | undefined {
  const plain = row ? PLAIN_IN_ROW : PLAIN_IN_ARRAY;
  const close = row ? 41 : 125; // `)` or `}`
  let value = '';
  let quoted = false;
  let quotedOrEscaped = false;
  while (at < text.length) {
    const pattern = quoted ? PLAIN_QUOTED : plain;
    pattern.lastIndex = at;
    if (pattern.test(text)) {
      value += text.slice(at, pattern.lastIndex);
      at = pattern.lastIndex;
      continue;
    }
    const c = text.charCodeAt(at);
    if (c === 92 /* \ */) {
      if (at + 1 >= text.length) return undefined;
      value += text[at + 1];
      quotedOrEscaped = true;
      at += 2;
    } else if (c === 34 /* " */) {
      if (quoted && row && text.charCodeAt(at + 1) === 34) {
        value += '"';
        at += 2;
      } else {
        quoted = !quoted;
        quotedOrEscaped = true;
        at++;
      }
    } else if (!quoted && (c === 44 || c === close)) return { value, end: at, quotedOrEscaped };
    else {
      // A delimiter inside quotes.
      value += text[at];
      at++;
    }
  }
  return undefined;
}

/** `(a,"b c",,"x""y")`: an empty field is NULL; quotes and backslashes escape, in or out of quotes. */
function parseRow(text: string, depth: number): Node | undefined {
  if (!text.endsWith(')') || text.length < 2) return undefined;
  const fields: (Node | null)[] = [];
  let at = 1;
  for (;;) {
    const read = readValue(text, at, true);
    if (read === undefined) return undefined;
    fields.push(read.value === '' && !read.quotedOrEscaped ? null : valueNode(read.value, depth));
    at = read.end;
    if (text[at] === ')') return at === text.length - 1 ? { kind: 'row', fields } : undefined;
    at++;
  }
}

/** `[1:2]={a,"b c",NULL,{nested}}`: unquoted NULL is NULL; whitespace around unquoted elements is not theirs. */
function parseArray(text: string, depth: number): Node | undefined {
  let prefix = '';
  if (text.startsWith('[')) {
    const equals = text.indexOf('=');
    if (equals < 0 || !/^(\[-?\d+:-?\d+\])+$/.test(text.slice(0, equals))) return undefined;
    prefix = text.slice(0, equals + 1);
  }
  const state = { at: prefix.length };
  const node = parseArrayLevel(text, state, prefix, false, depth);
  return node !== undefined && state.at === text.length ? node : undefined;
}

function parseArrayLevel(
  text: string,
  state: { at: number },
  prefix: string,
  bare: boolean,
  depth: number,
): Node | undefined {
  if (text[state.at] !== '{' || depth > MAX_DEPTH) return undefined;
  state.at++;
  const items: (Node | null)[] = [];
  if (text[state.at] === '}') {
    state.at++;
    return { kind: 'array', prefix, items, bare };
  }
  for (;;) {
    while (text[state.at] === ' ') state.at++;
    if (text[state.at] === '{') {
      const inner = parseArrayLevel(text, state, '', true, depth + 1);
      if (inner === undefined) return undefined;
      items.push(inner);
    } else {
      const read = readValue(text, state.at, false);
      if (read === undefined) return undefined;
      state.at = read.end;
      const { quotedOrEscaped } = read;
      const value = quotedOrEscaped ? read.value : read.value.trim();
      items.push(!quotedOrEscaped && value.toUpperCase() === 'NULL' ? null : valueNode(value, depth));
    }
    while (text[state.at] === ' ') state.at++;
    const c = text[state.at];
    state.at++;
    if (c === '}') return { kind: 'array', prefix, items, bare };
    // Only `,`: box, whose arrays use `;`, is never scanned (column-types.ts); `;` in a text element is unquoted.
    if (c !== ',') return undefined;
  }
}

/** The literal as the server renders it (record_out, array_out quoting), with the nodes `replaced` replaced. */
function render(node: Node, replaced: ReadonlyMap<Node, string>): string {
  const replacement = replaced.get(node);
  if (replacement !== undefined) return replacement;
  if (node.kind === 'text') return node.value;
  if (node.kind === 'row')
    return `(${node.fields.map((field) => (field === null ? '' : quoteField(render(field, replaced)))).join(',')})`;
  const items = node.items.map((item) => {
    if (item === null) return 'NULL';
    if (item.kind === 'array' && item.bare) return render(item, replaced);
    return quoteElement(render(item, replaced));
  });
  return `${node.prefix}{${items.join(',')}}`;
}

function quoteField(value: string): string {
  if (value !== '' && !/["\\(),\s]/.test(value)) return value;
  return `"${value.replace(/["\\]/g, (c) => c + c)}"`;
}

function quoteElement(value: string): string {
  if (value !== '' && value.toUpperCase() !== 'NULL' && !/[{}",\\\s]/.test(value)) return value;
  return `"${value.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}
