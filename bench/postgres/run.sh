#!/usr/bin/env bash
# PostgreSQL benchmark: pgbench -S direct vs pgbouncer vs Gatehouse. Writes bench/results/postgres.*
set -euo pipefail
cd "$(dirname "$0")/../.."
source bench/lib/tools.sh
ensure_tools pgbouncer:pgbouncer pgbench:postgresql-client
run_driver bench/postgres/bench.ts "$@"
