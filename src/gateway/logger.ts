import pino, { type Logger } from 'pino';

/** Structured JSON logs. Token values, credentials and request bodies are never logged; these paths are redacted too. */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
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
