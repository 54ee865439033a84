import type Database from 'better-sqlite3';
import { CATCH_UP_SQL, catchUpRange } from '../session-event-index.js';

/**
 * One catch-up of the session index (see session-event-index.ts), prepared on a connection, to run inside a write
 * transaction the caller holds. Returns how many event ids it passed.
 */
export function prepareIndexCatchUp(db: Database.Database): () => number {
  const cursor = db.prepare<[], { event_id: number }>(CATCH_UP_SQL.cursor);
  const head = db.prepare<[], { id: number | null }>(CATCH_UP_SQL.head);
  const index = db.prepare(CATCH_UP_SQL.index);
  const advance = db.prepare(CATCH_UP_SQL.advance);
  return () => {
    const range = catchUpRange(cursor.get()?.event_id, head.get()?.id);
    if (!range) return 0;
    index.run(range.from, range.through);
    advance.run(range.through);
    return range.through - range.from;
  };
}
