import type { Logger } from 'pino';
import type { GatehouseError } from '../../../core/errors.js';
import type { StatementNames } from '../relay/statement-names.js';
import type { Frame } from '../wire/frame-reader.js';
import { decodeFrontendMessage } from '../wire/frontend-messages.js';
import { FRONTEND } from '../wire/message-codes.js';
import type { ParsePool } from './parse-pool.js';

/** Messages of more bytes than this are classified on a worker thread unless configured otherwise. */
export const PARSE_IN_WORKER_ABOVE = 64 * 1024;

/** A Query or Parse long enough to be classified on a worker thread (see parse-pool.ts) before it is handled. */
export function isLargeStatement(frame: Frame, above: number): boolean {
  return frame.bytes.length > above && (frame.code === FRONTEND.Query || frame.code === FRONTEND.Parse);
}

/**
 * Classifies a large Query or Parse on the pool and leaves the result with `names` for its handler; false when it was
 * refused instead (too large: 54000, out of time: 54001), the refusal sent through `refuse`.
 */
export async function preclassifyLarge(
  frame: Frame,
  pool: ParsePool,
  names: StatementNames,
  refuse: (error: GatehouseError, mode: 'simple' | 'extended') => void,
  logger: Logger,
): Promise<boolean> {
  const message = decodeFrontendMessage(frame);
  if (message.type !== 'Query' && message.type !== 'Parse') return true;
  try {
    names.preclassify(message.sql, await pool.classify(message.sql));
    return true;
  } catch (error) {
    logger.warn({ err: error, bytes: frame.bytes.length }, 'large statement refused');
    refuse(error as GatehouseError, message.type === 'Query' ? 'simple' : 'extended');
    return false;
  }
}
