import { parentPort } from 'node:worker_threads';
import { type ClassifiedStatement, classifySql, loadSqlClassifier } from './classify.js';

/**
 * A thread that classifies large statements (started by parse-pool.ts), so one multi-megabyte statement does not hold
 * the gateway's event loop while libpg-query parses it. It runs the same classifier as the event loop does.
 */

export type ParseRequest = { readonly id: number; readonly sql: string };
export type ParseAnswer =
  | { readonly ready: true }
  | { readonly id: number; readonly statements: ClassifiedStatement[] }
  | { readonly id: number; readonly error: string };

const port = parentPort;
if (!port) throw new Error('parse-worker.ts runs as a worker thread');
const ready = loadSqlClassifier();
// Announced once the parser is loaded: a statement's time budget counts its classification only.
ready.then(
  () => {
    // A first parse of some size compiles the parser's hot paths, which would otherwise count against the first
    // statement's time budget.
    classifySql(`select 1 where 1 in (${Array.from({ length: 2000 }, (_, i) => i).join(',')})`);
    port.postMessage({ ready: true } satisfies ParseAnswer);
  },
  () => process.exit(1),
);

port.on('message', (request: ParseRequest) => {
  ready
    .then(() => {
      // Without the session's prepared names, EXECUTE is unknown here (and denied): fail closed.
      const statements = classifySql(request.sql);
      port.postMessage({ id: request.id, statements } satisfies ParseAnswer);
    })
    .catch((error: unknown) =>
      port.postMessage({
        id: request.id,
        error: error instanceof Error ? error.message : String(error),
      } satisfies ParseAnswer),
    );
});
