#!/usr/bin/env bash
# Masking benchmark: detector throughput on a large text corpus, and a 10,000-row wide read through the gateway
# with and without masking (node-postgres in this process, and pgbench in its own). Writes bench/results/masking.*
set -euo pipefail
cd "$(dirname "$0")/../.."
source bench/lib/tools.sh
ensure_tools pgbench:postgresql-client
run_driver bench/masking/bench.ts "$@"
