import { ConfigError, formatIssue } from '../config/load.js';
import { GatehouseError } from '../core/errors.js';
import { CliError, EXIT } from './exit-codes.js';

/** What to print (without the `gatehouse: ` prefix) and the exit code, for an error a command threw. */
export interface Failure {
  readonly text: string;
  readonly exitCode: number;
}

/** Codes that mean the caller gave the command something wrong, not that the command failed. */
const USAGE_CODES: ReadonlySet<string> = new Set(['config.invalid', 'request.invalid', 'request.not_found']);

/** Node system errors worth one line of their own: the path or address says what to fix. */
const SYSTEM_ERRORS: Readonly<Record<string, string>> = Object.assign(Object.create(null), {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EADDRINUSE: 'address already in use (another process listens there; choose another port in listen:)',
  EADDRNOTAVAIL: 'address not available on this machine (check listen:)',
  ECONNREFUSED: 'connection refused (is it running?)',
});

export function describeFailure(error: unknown): Failure {
  if (error instanceof ConfigError) {
    const [only, ...more] = error.issues;
    if (only !== undefined && more.length === 0) return { text: formatIssue(error.file, only), exitCode: EXIT.usage };
    return { text: error.message, exitCode: EXIT.usage };
  }
  if (error instanceof CliError) return { text: error.message, exitCode: error.exitCode };
  if (error instanceof GatehouseError) {
    return { text: error.message, exitCode: USAGE_CODES.has(error.code) ? EXIT.usage : EXIT.failure };
  }
  const system = error as NodeJS.ErrnoException;
  if (typeof system?.code === 'string' && SYSTEM_ERRORS[system.code] !== undefined) {
    const where = system.path ?? (system as { address?: string }).address ?? '';
    const port = (system as { port?: number }).port;
    return {
      text: `${where}${port === undefined ? '' : `:${port}`}: ${SYSTEM_ERRORS[system.code]}`.replace(/^: /, ''),
      exitCode: EXIT.failure,
    };
  }
  const message = error instanceof Error ? error.message : String(error);
  return {
    text: `unexpected error: ${message} (run with GATEHOUSE_DEBUG=1 for the stack trace, and please report it)`,
    exitCode: EXIT.failure,
  };
}
