#!/usr/bin/env node
// Compiles src/ to dist/: what `npm start`, bin/gatehouse.js and the container image run (no TypeScript loader at run
// time). Runs from `prepare`, so `npm ci` on a fresh clone leaves a working dist/. It needs only esbuild, a run-time
// dependency already (the SQLite spool thread bundles its worker with it), so `npm ci --omit=dev` builds too.
//
// Why a bundle and not one file out per file in: `gatehouse --help` loads every command module, and Node 20 spends
// more time resolving and compiling hundreds of small ES modules (ours and our dependencies') than running them; one
// bundle split per command answers in about half the time (bench/cli/). Types are checked by `npm run typecheck`.
import { rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const outdir = `${root}dist`;

/**
 * Left to Node's own resolution from node_modules: packages that load files next to their own code at run time
 * (wasm, native addons, worker scripts, data files) and so break when moved into a bundle.
 */
const EXTERNAL = [
  'better-sqlite3', // native addon found through `bindings`
  'libpg-query', // the PostgreSQL parser as wasm, loaded from its package folder
  '@electric-sql/*', // PGlite: wasm and data files loaded from its package folder
  'esbuild', // a native binary
  'pino', // worker-thread transports are files of the pino and thread-stream packages
  'thread-stream',
  'pg-native', // optional in pg, not installed
];

/**
 * `import.meta.url` in each source file becomes the URL that file has in a one-file-per-module layout under dist/
 * (dist/cli/commands/quickstart.js for src/cli/commands/quickstart.ts), so relative file references such as the
 * quickstart's ../../../examples/quickstart/gatehouse.yaml keep pointing where they did from src/.
 */
const rewritten = new Set();
const perFileImportMetaUrl = {
  name: 'per-file-import-meta-url',
  setup(build) {
    build.onLoad({ filter: /[\\/]src[\\/].*\.ts$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      if (!source.includes('import.meta.url')) return undefined;
      const asIfFile = relative(`${root}src`, args.path).replaceAll('\\', '/').replace(/\.ts$/, '.js');
      rewritten.add(relative(root, args.path).replaceAll('\\', '/'));
      // Every output of the main build is written at the top of dist/, so a path relative to dist/ resolves from it.
      const url = `new URL(${JSON.stringify(asIfFile)}, import.meta.url).href`;
      return { contents: source.replaceAll('import.meta.url', url), loader: 'ts' };
    });
  },
};

// Bundled CommonJS dependencies call require() for Node's built-ins; an ES module has none of its own.
const requireBanner = {
  js: "import { createRequire as __gatehouseCreateRequire } from 'node:module';\nconst require = __gatehouseCreateRequire(import.meta.url);",
};

const common = {
  absWorkingDir: root,
  outdir,
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  legalComments: 'linked',
  metafile: true,
  logLevel: 'warning',
};

rmSync(outdir, { recursive: true, force: true });
const main = await esbuild.build({
  ...common,
  entryPoints: { main: 'src/cli/main.ts' },
  splitting: true, // one chunk per command module, loaded when that command runs
  chunkNames: '[name]-[hash]',
  external: EXTERNAL,
  banner: requireBanner,
  plugins: [perFileImportMetaUrl],
});
for (const [file, output] of Object.entries(main.metafile.outputs)) {
  const nested = relative(outdir, `${root}${file}`).includes('/');
  const rewrittenInside = Object.keys(output.inputs).filter((input) => rewritten.has(input));
  if (nested && rewrittenInside.length > 0)
    throw new Error(`${file} is not at the top of dist/ but holds ${rewrittenInside}`);
}
// The store's worker threads (the SQLite spool's, the PostgreSQL chain writer's), self-contained where
// spool-thread.js and chain-thread.js look for them: those bundle them once more at start-up (to CommonJS, the form
// their workers run), so they must not share chunks or a require() banner.
const worker = await esbuild.build({
  ...common,
  entryPoints: {
    'store/sqlite/spool-worker': 'src/store/sqlite/spool-worker.ts',
    'store/postgres/chain-worker': 'src/store/postgres/chain-worker.ts',
  },
  external: ['better-sqlite3', 'pg'],
});
// The stand-ins as processes of their own: the OpenAI-compatible upstream (deploy/compose/ runs it next to the
// gateways) and the quickstart's pgvector database (scripts/container-smoke.sh). PGlite stays in node_modules.
const standIn = await esbuild.build({
  ...common,
  entryPoints: {
    'standins/openai': 'deploy/stand-in/openai-stand-in.ts',
    'standins/vectors': 'deploy/stand-in/vectors-stand-in.ts',
  },
  external: EXTERNAL,
  banner: requireBanner,
});
writeFileSync(`${outdir}/package.json`, `${JSON.stringify({ type: 'module' })}\n`);
const outputs = [main, worker, standIn].flatMap((result) => Object.values(result.metafile.outputs));
const bytes = outputs.reduce((sum, output) => sum + output.bytes, 0);
// On stderr: `npm pack --json` runs this (prepare) and its stdout must stay JSON.
console.error(`build: dist/ written (${outputs.length} files, ${(bytes / 1e6).toFixed(1)} MB)`);
