import { fileURLToPath } from 'node:url';

/** Each worker's script, built once per process (keyed by its entry file). */
const scripts = new Map<string, Promise<string>>();

/**
 * A store worker's source (`entry`, a URL next to the caller) and what it imports, as one CommonJS script to run with
 * `new Worker(script, { eval: true, workerData: { base: import.meta.url, ... } })`. Why a bundle: a worker thread does
 * not inherit the tsx loader the gateway runs under, and loading tsx in the thread costs about 1 s and 2 s of CPU per
 * start; esbuild (tsx's own compiler) bundles these few files in a fraction of that, off the event loop, and the
 * thread then starts in about 60 ms. `external` packages stay outside, required from this package (`base`).
 */
export function threadScript(entry: URL, external: readonly string[]): Promise<string> {
  const key = entry.href;
  let script = scripts.get(key);
  if (script) return script;
  script = import('esbuild')
    .then((esbuild) =>
      esbuild.build({
        entryPoints: [fileURLToPath(entry)],
        bundle: true,
        platform: 'node',
        format: 'cjs',
        target: 'node20',
        external: [...external],
        write: false,
        logLevel: 'silent',
      }),
    )
    .then((result) => {
      const [output] = result.outputFiles;
      if (!output) throw new Error(`esbuild produced no output for ${key}`);
      // The script runs with a `require` that resolves from this package, wherever the process started.
      return `(function (require) {\n${output.text}\n})(require('node:module').createRequire(require('node:worker_threads').workerData.base));`;
    });
  scripts.set(key, script);
  // A later start may try again.
  script.catch(() => scripts.delete(key));
  return script;
}

/** The worker's entry next to the calling module: TypeScript under tsx, the compiled file in dist/ (build.mjs). */
export function workerEntry(callerUrl: string, name: string): URL {
  return new URL(callerUrl.endsWith('.ts') ? `./${name}.ts` : `./${name}.js`, callerUrl);
}
