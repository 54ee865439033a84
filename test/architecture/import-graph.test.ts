import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { test } from 'node:test';

// The import graph of src/, read by dependency-cruiser (a maintained resolver that understands TypeScript's NodeNext
// `.js` specifiers and `import type`), then judged here so the failure names the offending edges.
// Rules (docs/architecture.md, "Import rules"):
// 1. Between top-level folders of src/ there is no two-way edge and no cycle. `import type` counts: a folder that
//    names another's types depends on it as surely as one that calls it.
// 2. Between modules there is no runtime cycle (type-only imports are erased, so they cannot form one at load time).
// 3. core/ imports no other folder.

const root = join(dirname(new URL(import.meta.url).pathname), '..', '..');
// The package exports no path to its CLI, so it is found where npm installs it.
const cruiserBin = join(root, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs');

interface CruiseDependency {
  readonly resolved: string;
  readonly dependencyTypes: readonly string[];
}
interface CruiseResult {
  readonly modules: readonly { readonly source: string; readonly dependencies: readonly CruiseDependency[] }[];
}

/** One import from a module in src/ to another module in src/. */
interface Edge {
  readonly from: string;
  readonly to: string;
  readonly typeOnly: boolean;
}

/**
 * Violations that exist today and are tracked by issue 28; each is to be removed here when fixed, and the test fails
 * if a listed one no longer occurs (so this list can only shrink) or if one not listed appears.
 */
const KNOWN_FOLDER_PAIRS: ReadonlySet<string> = new Set([
  'approvals <-> store', // store/migrations.ts runs approvals' table migrations; approvals uses Store
  'config <-> protocols', // config/schema.ts builds on protocol-owned option schemas
  'quotas <-> store', // store/migrations.ts runs the quota table migration; quotas uses Store
]);
const KNOWN_FOLDER_CYCLES: ReadonlySet<string> = new Set<string>([]);
const KNOWN_MODULE_CYCLES: ReadonlySet<string> = new Set([
  // plpgsql-tags classifies nested SQL with classify's uncached entry point; src/protocols/postgres/ is being edited
  // by another change this round, so the cycle is broken there next.
  'src/protocols/postgres/sql/classify.ts, src/protocols/postgres/sql/plpgsql-tags.ts, src/protocols/postgres/sql/sql-statements.ts',
]);

function readEdges(): Edge[] {
  const json = execFileSync(
    process.execPath,
    [cruiserBin, 'src', '--no-config', '--ts-config', 'tsconfig.json', '--ts-pre-compilation-deps', '-T', 'json'],
    { cwd: root, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 },
  );
  const result = JSON.parse(json) as CruiseResult;
  const edges: Edge[] = [];
  for (const module of result.modules) {
    if (!module.source.startsWith('src/')) continue;
    for (const dependency of module.dependencies) {
      if (!dependency.resolved.startsWith('src/')) continue;
      const typeOnly = dependency.dependencyTypes.some((t) => t === 'type-only' || t === 'pre-compilation-only');
      edges.push({ from: module.source, to: dependency.resolved, typeOnly });
    }
  }
  return edges;
}

const folderOf = (path: string): string => path.split('/')[1] ?? path;

/** Strongly connected components with more than one node (Tarjan), members sorted: each is a cycle or a knot of them. */
function cycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (node: string): void => {
    index.set(node, next);
    low.set(node, next);
    next++;
    stack.push(node);
    onStack.add(node);
    for (const target of graph.get(node) ?? []) {
      if (!index.has(target)) {
        visit(target);
        low.set(node, Math.min(low.get(node) as number, low.get(target) as number));
      } else if (onStack.has(target)) low.set(node, Math.min(low.get(node) as number, index.get(target) as number));
    }
    if (low.get(node) !== index.get(node)) return;
    const component: string[] = [];
    let member: string;
    do {
      member = stack.pop() as string;
      onStack.delete(member);
      component.push(member);
    } while (member !== node);
    if (component.length > 1) found.push(component.sort());
  };
  for (const node of [...graph.keys()].sort()) if (!index.has(node)) visit(node);
  return found;
}

function graphOf(edges: readonly (readonly [string, string])[]): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const [from, to] of edges) {
    const targets = graph.get(from) ?? [];
    if (!targets.includes(to)) targets.push(to);
    graph.set(from, targets);
  }
  return graph;
}

/** `known` entries that still occur, new ones that do not, and listed ones that are gone. */
function judge(found: readonly string[], known: ReadonlySet<string>) {
  return {
    unexpected: found.filter((entry) => !known.has(entry)),
    fixed: [...known].filter((entry) => !found.includes(entry)),
  };
}

const edges = readEdges();

test('the import graph was read (a broken cruise must not pass as an empty graph)', () => {
  assert.ok(edges.length > 500, `only ${edges.length} imports found in src/`);
  assert.ok(
    edges.some((e) => e.typeOnly),
    'no type-only import found: type imports would go uncounted',
  );
});

test('no two top-level folders of src/ import each other, type imports included', () => {
  const between = edges.filter((e) => folderOf(e.from) !== folderOf(e.to));
  const pairs = new Map<string, Edge[]>();
  for (const edge of between) {
    const [a, b] = [folderOf(edge.from), folderOf(edge.to)].sort() as [string, string];
    const key = `${a} <-> ${b}`;
    pairs.set(key, [...(pairs.get(key) ?? []), edge]);
  }
  const twoWay = [...pairs]
    .filter(([, list]) => new Set(list.map((e) => folderOf(e.from))).size === 2)
    .map(([key]) => key)
    .sort();
  const { unexpected, fixed } = judge(twoWay, KNOWN_FOLDER_PAIRS);
  const report = unexpected
    .map((key) => {
      const lines = (pairs.get(key) ?? []).map((e) => `    ${e.from} -> ${e.to}${e.typeOnly ? ' (type)' : ''}`);
      return `  ${key}\n${lines.join('\n')}`;
    })
    .join('\n');
  assert.deepEqual(unexpected, [], `folders that import each other:\n${report}`);
  assert.deepEqual(fixed, [], 'listed as known but no longer two-way: remove them from KNOWN_FOLDER_PAIRS');
});

test('the folders of src/ form no cycle (longer than two), type imports included', () => {
  const folderEdges = edges
    .filter((e) => folderOf(e.from) !== folderOf(e.to))
    .map((e) => [folderOf(e.from), folderOf(e.to)] as const);
  // Two-way pairs are judged (and listed) above; here the longer loops, with the known pairs' back edges left out.
  const withoutKnownPairs = folderEdges.filter(([from, to]) => {
    const [a, b] = [from, to].sort();
    return !KNOWN_FOLDER_PAIRS.has(`${a} <-> ${b}`);
  });
  const loops = cycles(graphOf(withoutKnownPairs)).map((c) => c.join(', '));
  const { unexpected, fixed } = judge(loops, KNOWN_FOLDER_CYCLES);
  const report = unexpected
    .map((loop) => {
      const members = new Set(loop.split(', '));
      const inside = edges.filter(
        (e) => folderOf(e.from) !== folderOf(e.to) && members.has(folderOf(e.from)) && members.has(folderOf(e.to)),
      );
      return `  ${loop}\n${inside.map((e) => `    ${e.from} -> ${e.to}${e.typeOnly ? ' (type)' : ''}`).join('\n')}`;
    })
    .join('\n');
  assert.deepEqual(unexpected, [], `folders in a cycle:\n${report}`);
  assert.deepEqual(fixed, [], 'listed as known but no longer a cycle: remove them from KNOWN_FOLDER_CYCLES');
});

test('no runtime import cycle between modules of src/', () => {
  const runtime = edges.filter((e) => !e.typeOnly);
  const found = cycles(graphOf(runtime.map((e) => [e.from, e.to] as const))).map((c) => c.join(', '));
  const { unexpected, fixed } = judge(found, KNOWN_MODULE_CYCLES);
  const report = unexpected
    .map((cycle) => {
      const members = new Set(cycle.split(', '));
      const inside = runtime.filter((e) => members.has(e.from) && members.has(e.to));
      return `  ${cycle}\n${inside.map((e) => `    ${e.from} -> ${e.to}`).join('\n')}`;
    })
    .join('\n');
  assert.deepEqual(unexpected, [], `modules in a runtime import cycle:\n${report}`);
  assert.deepEqual(fixed, [], 'listed as known but no longer a cycle: remove them from KNOWN_MODULE_CYCLES');
});

test('core/ imports no other folder of src/, so every folder may depend on it', () => {
  const outward = edges.filter((e) => folderOf(e.from) === 'core' && folderOf(e.to) !== 'core');
  assert.deepEqual(
    outward.map((e) => `${e.from} -> ${e.to}${e.typeOnly ? ' (type)' : ''}`),
    [],
    'core/ imports another folder',
  );
});
