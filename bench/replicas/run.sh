#!/usr/bin/env bash
# Replicas benchmark: SQLite vs one and two gateways on the PostgreSQL store. Writes bench/results/replicas.*
# A quick check that it runs: BENCH_REPLICAS_SECONDS=2 BENCH_REPLICAS_WARMUP=1 bench/replicas/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
source bench/lib/tools.sh
ensure_tools wrk:wrk pgbench:postgresql-client
run_driver bench/replicas/bench.ts "$@"
