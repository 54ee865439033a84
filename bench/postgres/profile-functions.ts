import { readFileSync } from 'node:fs';

/** The parts of V8's .cpuprofile JSON (written by `node --cpu-prof`) read here. */
interface CpuProfile {
  readonly nodes: readonly {
    readonly id: number;
    readonly callFrame: { readonly functionName: string; readonly url: string };
    readonly children?: readonly number[];
  }[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface FunctionTimes {
  readonly busyUs: number;
  /** Microseconds with the function on top of the stack. */
  readonly self: Map<string, number>;
  /** Microseconds with the function anywhere on the stack (counted once per sample even when recursive). */
  readonly total: Map<string, number>;
}

/**
 * Self and total time per function from a .cpuprofile, after `skipMs` (start-up and warm-up). A function is named
 * without its file: two builds bundle into differently named chunks, and the name is what compares across them.
 */
export function functionTimes(path: string, skipMs: number): FunctionTimes {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const nameOf = new Map<number, string>();
  const parents = new Map<number, number>();
  for (const node of profile.nodes) {
    const file =
      node.callFrame.url
        .split('/')
        .pop()
        ?.replace(/-[A-Z0-9]{8}\.js$/, '.js') ?? '';
    nameOf.set(node.id, `${node.callFrame.functionName || '(anonymous)'}${file ? ` ${file}` : ''}`);
    for (const child of node.children ?? []) parents.set(child, node.id);
  }
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  let busyUs = 0;
  let elapsedUs = 0;
  for (let i = 0; i < profile.samples.length - 1; i++) {
    elapsedUs += profile.timeDeltas[i] ?? 0;
    const us = profile.timeDeltas[i + 1] ?? 0;
    const id = profile.samples[i] as number;
    const name = nameOf.get(id) ?? '?';
    if (elapsedUs < skipMs * 1000 || name.startsWith('(idle)')) continue;
    busyUs += us;
    self.set(name, (self.get(name) ?? 0) + us);
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parents.get(at)) {
      const frame = nameOf.get(at) ?? '?';
      if (seen.has(frame)) continue;
      seen.add(frame);
      total.set(frame, (total.get(frame) ?? 0) + us);
    }
  }
  return { busyUs, self, total };
}
