import type { LogFn, Logger } from 'pino';

/** Per message, this many errors are logged in full each window; the rest are counted and summed up at its end. */
const FULL_PER_WINDOW = 5;
const WINDOW_MS = 10_000;
/** Distinct messages tracked at once; past it, new messages are logged as they come (they are rare by then). */
const MAX_KEYS = 1_000;
/** pino's level number for `error`: only errors and fatals are limited. */
const ERROR_LEVEL = 50;

interface Window {
  logged: number;
  suppressed: number;
  /** Where the summary goes: the logger (child) and method of the last suppressed line. */
  logger: Logger | undefined;
  method: LogFn | undefined;
}

/**
 * Aggregates repeated error lines: a store that refuses every write fails every operation, and one error line with a
 * stack per operation (tens of thousands a minute) drowns the log and costs CPU when it is most needed. Each
 * message keeps its first lines in full per window; the rest become one line with their count.
 */
export class ErrorLogLimiter {
  private windows = new Map<string, Window>();
  private timer: NodeJS.Timeout | undefined;

  /** True when this line is logged; false when it was counted for the window's summary. */
  allow(message: string, logger: Logger, method: LogFn): boolean {
    let window = this.windows.get(message);
    if (window === undefined) {
      if (this.windows.size >= MAX_KEYS) return true;
      window = { logged: 0, suppressed: 0, logger: undefined, method: undefined };
      this.windows.set(message, window);
      this.arm();
    }
    if (window.logged < FULL_PER_WINDOW) {
      window.logged++;
      return true;
    }
    window.suppressed++;
    window.logger = logger;
    window.method = method;
    return false;
  }

  /** Ends the window: one summary line per message that had lines suppressed. */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const windows = this.windows;
    this.windows = new Map();
    for (const [message, window] of windows) {
      if (window.suppressed === 0 || window.logger === undefined || window.method === undefined) continue;
      (window.method as (...a: unknown[]) => void).call(
        window.logger,
        { repeated: window.suppressed, windowMs: WINDOW_MS },
        `${message} (repeated ${window.suppressed} more times in ${WINDOW_MS / 1000} s, not logged one by one)`,
      );
    }
  }

  private arm(): void {
    if (this.timer !== undefined) return;
    this.timer = setTimeout(() => this.flush(), WINDOW_MS);
    this.timer.unref();
  }
}

/** A pino `hooks.logMethod` that passes errors through `limiter`. */
export function limitedLogMethod(limiter: ErrorLogLimiter) {
  return function (this: Logger, args: Parameters<LogFn>, method: LogFn, level: number): void {
    if (level < ERROR_LEVEL || limiter.allow(messageOf(args), this, method)) {
      (method as (...a: unknown[]) => void).apply(this, args as unknown[]);
    }
  };
}

function messageOf(args: readonly unknown[]): string {
  const [first, second] = args;
  if (typeof first === 'string') return first;
  return typeof second === 'string' ? second : '';
}
