#!/usr/bin/env bash
# Agent tunnel benchmark: pgbench -S through the gateway, direct connector vs agent tunnel. Writes bench/results/agent.*
set -euo pipefail
cd "$(dirname "$0")/../.."
source bench/lib/tools.sh
ensure_tools pgbench:postgresql-client
run_driver bench/agent/bench.ts "$@"
