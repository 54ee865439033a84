import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

/** The parts of V8's .cpuprofile JSON (written by `node --cpu-prof`) this summary reads. */
interface CpuProfile {
  readonly nodes: readonly {
    readonly id: number;
    readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
    readonly children?: readonly number[];
  }[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface ProfileEntry {
  readonly name: string;
  readonly selfMs: number;
  /** Share of the busy (non-idle) time. */
  readonly percent: number;
  /** For functions: the nearest calling frame in the repository or an npm package (most of the time). */
  readonly via?: string;
}

export interface ProfileSummary {
  readonly wallMs: number;
  readonly busyMs: number;
  readonly busyPercent: number;
  readonly functions: readonly ProfileEntry[];
  readonly modules: readonly ProfileEntry[];
}

/**
 * Self time by function and by module (package, source file or Node internal area) from a .cpuprofile file, counting
 * only samples taken after `skipMs` (start-up and warm-up: module loading and compilation are not the steady state).
 */
export function summariseProfile(
  path: string,
  root: string,
  options: { skipMs?: number; top?: number } = {},
): ProfileSummary {
  const top = options.top ?? 20;
  const skipUs = (options.skipMs ?? 0) * 1000;
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const frames = new Map(profile.nodes.map((node) => [node.id, node.callFrame]));
  const parents = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node.id);
  const label = (frame: CpuProfile['nodes'][number]['callFrame']) => {
    const module = moduleOf(frame.url, frame.functionName, root);
    // Line numbers of the repository's TypeScript are tsx's output lines, not the source's: leave them out.
    const where = frame.url && !module.endsWith('.ts') ? `${module}:${frame.lineNumber + 1}` : module;
    return { module, fn: `${frame.functionName || '(anonymous)'} ${where}` };
  };
  /** The first ancestor frame that is application code (repository file or npm package), not Node or V8. */
  const caller = (id: number): string | undefined => {
    for (let at = parents.get(id); at !== undefined; at = parents.get(at)) {
      const frame = frames.get(at);
      if (!frame?.url || frame.url.startsWith('node:')) continue;
      return label(frame).fn;
    }
    return undefined;
  };
  const callers = new Map<string, Map<string, number>>();
  const byFunction = new Map<string, number>();
  const byModule = new Map<string, number>();
  let idleUs = 0;
  let totalUs = 0;
  // Sample i lasted until sample i+1 (the DevTools convention); the last one gets no time.
  let elapsedUs = 0;
  for (let i = 0; i < profile.samples.length - 1; i++) {
    elapsedUs += profile.timeDeltas[i] ?? 0;
    const frame = frames.get(profile.samples[i] as number);
    const us = profile.timeDeltas[i + 1] ?? 0;
    if (!frame || elapsedUs < skipUs) continue;
    totalUs += us;
    if (frame.functionName === '(idle)') {
      idleUs += us;
      continue;
    }
    const { module, fn } = label(frame);
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + us);
    const via = caller(profile.samples[i] as number);
    if (via !== undefined) {
      const counts = callers.get(fn) ?? new Map<string, number>();
      counts.set(via, (counts.get(via) ?? 0) + us);
      callers.set(fn, counts);
    }
    byModule.set(module, (byModule.get(module) ?? 0) + us);
  }
  const busyUs = totalUs - idleUs;
  const rank = (map: Map<string, number>): ProfileEntry[] =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => {
        const via = [...(callers.get(name) ?? [])].sort((a, b) => b[1] - a[1])[0]?.[0];
        return {
          name,
          selfMs: Math.round(us / 100) / 10,
          percent: busyUs ? Math.round((us / busyUs) * 1000) / 10 : 0,
          ...(via !== undefined && via !== name ? { via } : {}),
        };
      });
  return {
    wallMs: Math.round(totalUs / 1000),
    busyMs: Math.round(busyUs / 1000),
    busyPercent: totalUs ? Math.round((busyUs / totalUs) * 1000) / 10 : 0,
    functions: rank(byFunction),
    modules: rank(byModule),
  };
}

/** `node_modules/<package>`, a repository file, `node:<module>` or a V8 pseudo-frame such as `(garbage collector)`. */
function moduleOf(url: string, functionName: string, root: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const path = url.startsWith('file://') ? decodeURIComponent(new URL(url).pathname) : url;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
  if (pkg) return `npm:${pkg[1]}`;
  if (path.startsWith('node:')) return path.replace(/^node:internal\//, 'node:');
  return path.startsWith(root) ? relative(root, path) : path;
}

/** The summary as markdown: the top modules and the top functions by self time. */
export function profileMarkdown(summary: ProfileSummary, topFunctions = 15): string {
  const lines = [
    `Busy ${summary.busyMs} ms of ${summary.wallMs} ms sampled (${summary.busyPercent}% of the gateway's main thread).`,
    '',
    '| module | self ms | % of busy |',
    '| --- | ---: | ---: |',
    ...summary.modules.map((m) => `| \`${m.name}\` | ${m.selfMs} | ${m.percent} |`),
    '',
    '| function | self ms | % of busy | mostly called from |',
    '| --- | ---: | ---: | --- |',
    ...summary.functions
      .slice(0, topFunctions)
      .map((f) => `| \`${f.name}\` | ${f.selfMs} | ${f.percent} | ${f.via ? `\`${f.via}\`` : ''} |`),
  ];
  return lines.join('\n');
}
