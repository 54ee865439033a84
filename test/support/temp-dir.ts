import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Directories made here, removed when the test process exits (a test may reopen what it made after closing it). */
const made: string[] = [];

/** A new directory under the system's temporary directory, named `prefix` plus a random suffix. */
export function temporaryDirectory(prefix: string): string {
  if (made.length === 0) {
    process.once('exit', () => {
      for (const dir of made) rmSync(dir, { recursive: true, force: true });
    });
  }
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}
