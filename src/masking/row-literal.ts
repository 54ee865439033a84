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
  /** A text value found inside the literal (not itself a row or array), masked by content. */
  text(value: string): string;
}

type Node =
  | { readonly kind: 'text'; readonly value: string }
  | { readonly kind: 'row'; readonly fields: (Node | null)[] }
  /** `bare`: a sub-array of a multi-dimensional array, written unquoted (an array inside an element is quoted). */
  | { readonly kind: 'array'; readonly prefix: string; readonly items: (Node | null)[]; readonly bare: boolean };

/** Deepest nesting followed; deeper literals are masked as text, as they are rendered. */
const MAX_DEPTH = 16;

/**
 * `text` with every value inside it masked, or undefined when it is not a row or array literal (the caller scans it
 * as text). A value that looks like a nested literal but does not parse as one is masked as text.
 */
export function maskLiteral(text: string, masking: LiteralMasking): string | undefined {
  const node = parseLiteral(text, 0);
  if (node === undefined) return undefined;
  const masked = maskNode(node, masking, true, 0);
  return masked === node ? text : render(masked);
}

function maskNode(node: Node, masking: LiteralMasking, top: boolean, depth: number): Node {
  if (node.kind === 'text') {
    const value = masking.text(node.value);
    return value === node.value ? node : { kind: 'text', value };
  }
  if (node.kind === 'array') {
    // The rows of a top-level array are rows of the same type: their fields are known as the top-level row's.
    const items = node.items.map((item) => (item === null ? null : maskNode(item, masking, top, depth + 1)));
    return items.every((item, i) => item === node.items[i]) ? node : { ...node, items };
  }
  const fields = node.fields.map((field, i) => {
    if (field === null) return null;
    if (top && masking.field !== undefined) {
      const ruled = masking.field(i, render(field));
      if (ruled !== undefined) return { kind: 'text', value: ruled } as const;
    }
    return maskNode(field, masking, false, depth + 1);
  });
  return fields.every((field, i) => field === node.fields[i]) ? node : { kind: 'row', fields };
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

/** `(a,"b c",,"x""y")`: an empty field is NULL; quotes and backslashes escape, in or out of quotes. */
function parseRow(text: string, depth: number): Node | undefined {
  if (!text.endsWith(')') || text.length < 2) return undefined;
  const fields: (Node | null)[] = [];
  let at = 1;
  for (;;) {
    let value = '';
    let quotedOrEscaped = false;
    let quoted = false;
    for (; at < text.length; at++) {
      const c = text[at] as string;
      if (quoted) {
        if (c === '"' && text[at + 1] === '"') {
          value += '"';
          at++;
        } else if (c === '"') quoted = false;
        else if (c === '\\' && at + 1 < text.length) value += text[++at];
        else value += c;
      } else if (c === '"') {
        quoted = quotedOrEscaped = true;
      } else if (c === '\\' && at + 1 < text.length) {
        value += text[++at];
        quotedOrEscaped = true;
      } else if (c === ',' || c === ')') break;
      else value += c;
    }
    if (quoted || at >= text.length) return undefined;
    fields.push(value === '' && !quotedOrEscaped ? null : valueNode(value, depth));
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
      let value = '';
      let quotedOrEscaped = false;
      let quoted = false;
      let at = state.at;
      for (; at < text.length; at++) {
        const c = text[at] as string;
        if (quoted) {
          if (c === '"') quoted = false;
          else if (c === '\\' && at + 1 < text.length) value += text[++at];
          else value += c;
        } else if (c === '"') quoted = quotedOrEscaped = true;
        else if (c === '\\' && at + 1 < text.length) {
          value += text[++at];
          quotedOrEscaped = true;
        } else if (c === ',' || c === '}') break;
        else value += c;
      }
      if (quoted || at >= text.length) return undefined;
      state.at = at;
      if (!quotedOrEscaped) value = value.trim();
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

/** The literal as the server renders it (record_out, array_out quoting). */
function render(node: Node): string {
  if (node.kind === 'text') return node.value;
  if (node.kind === 'row')
    return `(${node.fields.map((field) => (field === null ? '' : quoteField(render(field)))).join(',')})`;
  const items = node.items.map((item) => {
    if (item === null) return 'NULL';
    if (item.kind === 'array' && item.bare) return render(item);
    return quoteElement(render(item));
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
