import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './gatehouse.js';
import { type CommandLog, run } from './processes.js';

/** A build of Gatehouse at another commit, for a "before" column measured in the same run as the working tree. */
export interface BaselineBuild {
  readonly root: string;
  readonly commit: string;
  dispose(): Promise<void>;
}

/**
 * Checks `ref` out into a temporary git worktree (sharing this checkout's node_modules: a before/after comparison of
 * our code, not of dependency versions) and builds its dist/. Same-run comparison is the only fair one on a shared
 * machine: two runs minutes apart differ by more than most changes do.
 */
export async function buildBaseline(log: CommandLog, ref: string): Promise<BaselineBuild> {
  const root = join(mkdtempSync(join(tmpdir(), 'gatehouse-baseline-')), 'repo');
  await run(log, 'git', ['worktree', 'add', '--detach', root, ref], { cwd: REPO_ROOT });
  const dispose = async () => {
    await run(log, 'git', ['worktree', 'remove', '--force', root], { cwd: REPO_ROOT, allowFailure: true });
    rmSync(join(root, '..'), { recursive: true, force: true });
  };
  try {
    symlinkSync(join(REPO_ROOT, 'node_modules'), join(root, 'node_modules'));
    await run(log, 'node', ['scripts/build.mjs'], { cwd: root });
    const commit = (await run(log, 'git', ['rev-parse', '--short', 'HEAD'], { cwd: root })).stdout.trim();
    return { root, commit, dispose };
  } catch (error) {
    await dispose();
    throw error;
  }
}
