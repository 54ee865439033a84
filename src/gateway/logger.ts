import pino, { type Logger } from 'pino';
import { ErrorLogLimiter, limitedLogMethod } from './log-limiter.js';

/**
 * Structured JSON logs. Token values, credentials and request bodies are never logged; these paths are redacted too.
 * Repeated error lines are aggregated (see log-limiter.ts).
 */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      hooks: { logMethod: limitedLogMethod(new ErrorLogLimiter()) },
      base: { service: 'gatehouse' },
      redact: {
        paths: ['token', 'password', 'authorization', '*.authorization', 'credential', '*.credential'],
        censor: '[redacted]',
      },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}
