#!/usr/bin/env bash
# `npm run bench`: every benchmark in bench/*/run.sh (http and postgres first), one after the other (they would compete
# for the same 2 cores). Each writes its latest results to bench/results/. BENCH_ONLY=http,postgres runs a subset.
set -euo pipefail
cd "$(dirname "$0")/.."
# The gateway runs from dist/ (bin/gatehouse.js): built first so it is never older than src/.
node scripts/build.mjs

suites=(http postgres)
for script in bench/*/run.sh; do
  name=$(basename "$(dirname "$script")")
  [[ " ${suites[*]} " == *" $name "* ]] || suites+=("$name")
done

status=0
for name in "${suites[@]}"; do
  [ -f "bench/$name/run.sh" ] || continue
  if [ -n "${BENCH_ONLY:-}" ] && [[ ",$BENCH_ONLY," != *",$name,"* ]]; then continue; fi
  echo "== bench/$name ($(uptime | sed 's/.*load average/load average/'))"
  bash "bench/$name/run.sh" || { echo "bench/$name failed" >&2; status=1; }
done
exit $status
