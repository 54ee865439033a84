import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';

export interface SyscallCount {
  /** System calls per transaction, all kinds. */
  readonly perTransaction: number;
  /** The most frequent kinds, per transaction. */
  readonly top: Readonly<Record<string, number>>;
}

/**
 * System calls each process makes while `work` runs a known number of transactions, counted by `strace -c`. On a
 * shared machine without hardware counters, CPU time per transaction moves with other people's load; a syscall count
 * with one transaction in flight does not. strace slows the traced process a lot, so this runs apart from the timed
 * measurements.
 */
export async function countSyscalls(
  pids: Readonly<Record<string, number>>,
  work: () => Promise<number>,
): Promise<Record<string, SyscallCount>> {
  const tracers = Object.entries(pids).map(([name, pid]) => {
    const child = spawn('strace', ['-c', '-f', '-p', String(pid)], { stdio: ['ignore', 'ignore', 'pipe'] });
    let output = '';
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    return { name, child, output: () => output };
  });
  // strace prints "Process N attached" once it has hold of the process (every thread with -f).
  await waitAttached(tracers);
  let transactions = 0;
  try {
    transactions = await work();
  } finally {
    for (const tracer of tracers) tracer.child.kill('SIGINT');
    await Promise.all(tracers.map((tracer) => once(tracer.child, 'exit')));
  }
  const counts: Record<string, SyscallCount> = {};
  for (const tracer of tracers) counts[tracer.name] = parseSummary(tracer.output(), transactions);
  return counts;
}

async function waitAttached(tracers: readonly { child: ChildProcess; output: () => string }[]): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!tracers.every((tracer) => /attached/.test(tracer.output()))) {
    const dead = tracers.find((tracer) => tracer.child.exitCode !== null);
    if (dead !== undefined) throw new Error(`strace could not attach:\n${dead.output()}`);
    if (Date.now() > deadline) throw new Error('strace did not attach within 10 s');
    await sleep(50);
  }
  await sleep(200);
}

/** `strace -c` table rows: `% time  seconds  usecs/call  calls  [errors]  syscall`, then a `total` row. */
function parseSummary(text: string, transactions: number): SyscallCount {
  const calls = new Map<string, number>();
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/\s+/);
    const name = fields.at(-1);
    if (fields.length < 5 || name === undefined || !/^[\d.]+$/.test(fields[0] ?? '')) continue;
    calls.set(name, Number(fields[3]));
  }
  const total = calls.get('total') ?? 0;
  calls.delete('total');
  const per = (n: number) => Math.round((n / Math.max(1, transactions)) * 100) / 100;
  const top = [...calls.entries()].sort((a, b) => b[1] - a[1]).slice(0, 6);
  return { perTransaction: per(total), top: Object.fromEntries(top.map(([name, n]) => [name, per(n)])) };
}
