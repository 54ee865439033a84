import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';

const root = new URL('../..', import.meta.url);
const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as {
  name: string;
  bin: Record<string, string>;
  scripts: Record<string, string>;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

/** What a user of the package needs, and nothing else: the compiled code, the command, the quickstart config, docs. */
const ALLOWED: readonly RegExp[] = [
  /^package\.json$/,
  /^README\.md$/,
  /^LICENSE$/,
  /^CHANGELOG\.md$/,
  /^bin\/gatehouse\.js$/,
  /^dist\/[\w/.-]+\.js$/,
  /^dist\/[\w.-]+\.js\.LEGAL\.txt$/, // licence comments of bundled dependencies
  /^dist\/package\.json$/,
  /^examples\/quickstart\/gatehouse\.yaml$/,
];
const REQUIRED = [
  'package.json',
  'README.md',
  'bin/gatehouse.js',
  'dist/main.js',
  'dist/store/sqlite/spool-worker.js',
  'examples/quickstart/gatehouse.yaml',
];

function packedFiles(): string[] {
  // `npm pack` runs `prepare` (the build) first, as it would before a publish; its log goes to stderr.
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts=false'], {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 120_000,
  });
  const [report] = JSON.parse(out) as { files: { path: string }[] }[];
  assert.ok(report, 'npm pack printed a report');
  return report.files.map((file) => file.path).sort();
}

describe('the npm package', () => {
  test('has a scoped name (gatehouse is taken on npm) and keeps the gatehouse command', () => {
    assert.equal(pkg.name, '@gatehouse-gw/gatehouse');
    assert.deepEqual(pkg.bin, { gatehouse: 'bin/gatehouse.js' });
  });

  test('runs compiled JavaScript: npm start and the command use bin/gatehouse.js, which loads dist/ and not tsx', () => {
    assert.match(pkg.scripts.start ?? '', /^node bin\/gatehouse\.js serve/);
    assert.match(pkg.scripts.prepare ?? '', /scripts\/build\.mjs/);
    const bin = readFileSync(new URL('bin/gatehouse.js', root), 'utf8');
    assert.match(bin, /import\('\.\.\/dist\/main\.js'\)/);
    assert.doesNotMatch(bin, /['"]tsx[/'"]/, 'no import of the tsx loader');
    assert.equal(pkg.dependencies.tsx, undefined, 'tsx is a development dependency only');
    assert.ok(pkg.devDependencies.tsx, 'tests still run the sources through tsx');
    assert.ok(
      pkg.dependencies.esbuild,
      'the build (prepare) and the spool thread need esbuild at install and run time',
    );
  });

  test('npm pack lists only what a user needs: dist/, bin/, the quickstart config and the docs', () => {
    const files = packedFiles();
    const unexpected = files.filter((file) => !ALLOWED.some((pattern) => pattern.test(file)));
    assert.deepEqual(unexpected, [], 'no tests, sources, benches, fixtures, source maps or deploy files');
    for (const file of REQUIRED) assert.ok(files.includes(file), `${file} is in the package`);
    assert.ok(!files.some((file) => /^(src|test|bench|scripts|deploy)\//.test(file) || file.endsWith('.map')));
  });
});
