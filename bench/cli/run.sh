#!/usr/bin/env bash
# CLI start-up: `gatehouse --help` and `gatehouse policy explain` from the TypeScript sources through tsx (how the
# command ran before the build) and from the compiled dist/ (how it runs now), median of RUNS runs each (hyperfine,
# from Debian). Writes bench/results/cli.md. RUNS=3 for a quick proof that it works.
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${RUNS:-20}
command -v hyperfine >/dev/null || apt-get install -y -qq hyperfine >/dev/null
node scripts/build.mjs
config=examples/quickstart/gatehouse.yaml
explain=(policy explain -c "$config" --resource vectors --groups rag-readers --sql "SELECT title FROM documents")
quoted_explain=$(printf '%q ' "${explain[@]}")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
hyperfine --style basic --warmup 2 --runs "$runs" --export-json "$work/cli.json" \
  -n 'node -e 0 (the floor)' 'node -e 0' \
  -n 'source (tsx) --help' 'node --import tsx src/cli/main.ts --help' \
  -n 'dist --help' 'node bin/gatehouse.js --help' \
  -n 'source (tsx) policy explain' "node --import tsx src/cli/main.ts $quoted_explain" \
  -n 'dist policy explain' "node bin/gatehouse.js $quoted_explain" >/dev/null
node - "$work/cli.json" "$runs" >bench/results/cli.md <<'JS'
const [file, runs] = process.argv.slice(2);
const { results } = JSON.parse(require('node:fs').readFileSync(file, 'utf8'));
const ms = (s) => `${(s * 1000).toFixed(0)} ms`;
const os = require('node:os');
console.log('# CLI start-up: sources through tsx vs compiled dist/\n');
console.log(`${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${os.cpus().length} cores, load average ${os.loadavg()[0].toFixed(1)} at the end; median of ${runs} runs (hyperfine, 2 warm-up runs). Target: under 500 ms.\n`);
console.log('CPU time (user + system, mean) is shown too: on a shared, loaded machine it says more than wall time.\n');
console.log('| command | median (wall) | min | max | CPU (user+sys) |');
console.log('|---|---|---|---|---|');
for (const r of results) {
  console.log(`| ${r.command} | ${ms(r.median)} | ${ms(r.min)} | ${ms(r.max)} | ${ms(r.user + r.system)} |`);
}
JS
cat bench/results/cli.md
