#!/usr/bin/env bash
# Cost of session recording: pgbench (select-only and TPC-B-like) through Gatehouse with recording on and off in one run.
# Writes bench/results/recording.*
set -euo pipefail
cd "$(dirname "$0")/../.."
source bench/lib/tools.sh
ensure_tools pgbench:postgresql-client
run_driver bench/recording/bench.ts "$@"
