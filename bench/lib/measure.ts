import { setTimeout as sleep } from 'node:timers/promises';
import { CpuAccount, loadAverage } from './machine.js';

/** CPU used by processes outside the benchmark above which a measurement is taken again, in % of one core. */
export const FOREIGN_CPU_LIMIT = Number(process.env.BENCH_FOREIGN_CPU_LIMIT ?? 15);
const MAX_ATTEMPTS = Math.max(1, Number(process.env.BENCH_ATTEMPTS ?? 4));
/** Pause before measuring again, so a short burst elsewhere (a type check, a test file) can pass. */
const RETRY_PAUSE_MS = 5_000;

export interface Measured<T> {
  readonly result: T;
  /** Other processes' CPU during the measurement, % of one core (see CpuAccount). */
  readonly foreignCpu: number;
  readonly loadBefore: number;
  readonly loadAfter: number;
  readonly attempts: number;
}

/**
 * Runs a measurement, and again (up to 4 times in all) while other processes used more than FOREIGN_CPU_LIMIT of a
 * core meanwhile; keeps the quietest attempt.
 */
export async function measureQuietly<T>(label: string, measure: () => Promise<T>): Promise<Measured<T>> {
  let best: Measured<T> | undefined;
  let attempts = 0;
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    attempts = attempt;
    const loadBefore = loadAverage()[0] ?? 0;
    const account = new CpuAccount();
    const result = await measure();
    const foreignCpu = account.foreignPercentOfCore();
    const measured = { result, foreignCpu, loadBefore, loadAfter: loadAverage()[0] ?? 0, attempts: attempt };
    if (!best || foreignCpu < best.foreignCpu) best = measured;
    if (foreignCpu <= FOREIGN_CPU_LIMIT) break;
    if (attempt === MAX_ATTEMPTS) break;
    progress(`${label}: other processes used ${foreignCpu}% of a core meanwhile; measuring again`);
    await sleep(RETRY_PAUSE_MS);
  }
  return { ...(best as Measured<T>), attempts };
}

export function progress(message: string): void {
  process.stderr.write(`bench: ${message}\n`);
}
