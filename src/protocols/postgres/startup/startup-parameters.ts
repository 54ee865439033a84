/**
 * What a client's StartupMessage may set on its backend session, and what the gateway pins there whatever the client
 * asks. The gateway classifies SQL as UTF-8 text with standard-conforming strings: a backend that read the same bytes
 * in another encoding (SJIS's `0x95 0x5C` swallows a backslash) or with backslash escapes in plain literals would run
 * SQL the gateway never judged. So those readings are pinned at startup, and settings arrive by allow-list only.
 * https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-STARTUPMESSAGE
 */
import { GatehouseError } from '../../../core/errors.js';

/** Startup parameters the gateway sends on every backend session (the server reports them back; see `pinnedFor`). */
export const PINNED_STARTUP: Readonly<Record<string, string>> = Object.freeze(
  Object.assign(Object.create(null), {
    client_encoding: 'UTF8',
    standard_conforming_strings: 'on',
  }),
);

/**
 * Settings a client may pass (as a startup parameter or in `options`): they change how values are shown or how long
 * things may take, never how SQL text is read, who the session is, or whether it may write. Lower-case GUC names,
 * mapped to the spelling sent to the backend.
 */
const HARMLESS_SETTINGS: Readonly<Record<string, string>> = Object.assign(Object.create(null), {
  datestyle: 'DateStyle',
  timezone: 'TimeZone',
  intervalstyle: 'IntervalStyle',
  extra_float_digits: 'extra_float_digits',
  statement_timeout: 'statement_timeout',
  lock_timeout: 'lock_timeout',
  idle_in_transaction_session_timeout: 'idle_in_transaction_session_timeout',
});

/**
 * Client encodings the gateway answers with UTF8: UTF-8 under its other names, and SQL_ASCII (libpq's choice in a
 * C locale; its clients send ASCII). Any other encoding would make the client's bytes mean something else to it than
 * to the server, so the login is refused. Names as PostgreSQL compares them: case and punctuation ignored.
 */
const UTF8_EQUIVALENT = new Set(['utf8', 'unicode', 'sqlascii']);

/** Startup parameters that are not settings, handled elsewhere (identity, routing, protocol). */
const NOT_SETTINGS = new Set(['user', 'database', 'application_name', 'replication', 'options', 'client_encoding']);

function refusal(message: string, sqlstate: string): GatehouseError {
  return new GatehouseError('request.invalid', message, { details: { sqlstate } });
}

/**
 * The settings to pass on to the backend from a client's startup parameters, or a refusal (SQLSTATE 22023 for a
 * client_encoding that is not UTF-8, 0A000 for an `options` entry that is not harmless). Other parameters that are
 * not harmless settings (search_path, role, default_transaction_read_only...) are dropped, as before: drivers send
 * some of them routinely (JDBC's search_path for currentSchema), and dropping them keeps the server's default.
 */
export function startupSettings(parameters: Readonly<Record<string, string>>): Record<string, string> {
  const encoding = parameters['client_encoding'];
  if (encoding !== undefined && !UTF8_EQUIVALENT.has(normaliseEncoding(encoding))) {
    throw refusal(
      `client_encoding "${encoding}" is not supported by the gateway: connect with client_encoding UTF8`,
      '22023',
    );
  }
  const settings: Record<string, string> = {};
  for (const [name, value] of Object.entries(parameters)) {
    if (NOT_SETTINGS.has(name) || name.startsWith('_pq_.')) continue;
    const spelled = HARMLESS_SETTINGS[name.toLowerCase()];
    if (spelled !== undefined) settings[spelled] = value;
  }
  const options = parameters['options'];
  if (options !== undefined) {
    for (const [name, value] of parseOptions(options)) {
      const spelled = HARMLESS_SETTINGS[name.toLowerCase()];
      if (spelled === undefined) {
        throw refusal(
          `the startup option "${name}" is not allowed through the gateway (allowed: ${Object.values(HARMLESS_SETTINGS).join(', ')})`,
          '0A000',
        );
      }
      settings[spelled] = value;
    }
  }
  return settings;
}

function normaliseEncoding(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]/g, '');
}

/**
 * `options` as the server reads it (pg_split_opts: words split at unescaped white space, `\` escapes the next
 * character), then as its command-line switches: only `-c name=value`, `-cname=value` and `--name=value` are
 * settings; any other switch (`-B`, `-d`, `-o`...) is refused outright.
 */
export function parseOptions(options: string): [string, string][] {
  const words = splitOptions(options);
  const settings: [string, string][] = [];
  for (let k = 0; k < words.length; k++) {
    const word = words[k] as string;
    let assignment: string | undefined;
    if (word === '-c') assignment = words[++k];
    else if (word.startsWith('-c')) assignment = word.slice(2);
    else if (word.startsWith('--')) assignment = word.slice(2);
    else throw refusal(`the startup option "${word}" is not allowed through the gateway`, '0A000');
    const equals = assignment?.indexOf('=') ?? -1;
    if (assignment === undefined || equals <= 0)
      throw refusal(`the startup option "${word}" needs the form -c name=value`, '0A000');
    // The server reads `--statement-timeout` as statement_timeout.
    settings.push([assignment.slice(0, equals).replace(/-/g, '_'), assignment.slice(equals + 1)]);
  }
  return settings;
}

function splitOptions(options: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  for (let k = 0; k < options.length; k++) {
    const c = options[k] as string;
    if (c === '\\' && k + 1 < options.length) {
      word += options[++k];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (inWord) words.push(word);
  return words;
}

/**
 * The values the server must keep reporting for the whole session (ParameterStatus): the pinned readings, and for a
 * read-only session `default_transaction_read_only` (reported since PostgreSQL 14). Any other value ends the session.
 */
export function pinnedFor(readOnly: boolean): ReadonlyMap<string, string> {
  const pinned = new Map(Object.entries(PINNED_STARTUP));
  if (readOnly) pinned.set('default_transaction_read_only', 'on');
  return pinned;
}

/** The name of the first pinned parameter whose reported value differs, if any. */
export function brokenPin(
  pinned: ReadonlyMap<string, string>,
  reported: ReadonlyMap<string, string>,
): string | undefined {
  for (const [name, value] of pinned) {
    const actual = reported.get(name);
    // Servers before 14 do not report default_transaction_read_only; the encoding and string style always are.
    if (actual === undefined && name === 'default_transaction_read_only') continue;
    if (actual?.toLowerCase() !== value.toLowerCase()) return name;
  }
  return undefined;
}
