#!/usr/bin/env bash
# Masking benchmark: detector throughput on a large text corpus, and a 10,000-row wide read through the gateway
# with and without masking. Writes bench/results/masking.*
set -euo pipefail
cd "$(dirname "$0")/../.."
source bench/lib/tools.sh
run_driver bench/masking/bench.ts "$@"
