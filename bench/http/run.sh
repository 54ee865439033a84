#!/usr/bin/env bash
# HTTP benchmark: direct vs nginx reverse proxy vs Gatehouse, plus SSE time to first byte. Writes bench/results/http.*
set -euo pipefail
cd "$(dirname "$0")/../.."
source bench/lib/tools.sh
ensure_tools nginx:nginx wrk:wrk
run_driver bench/http/bench.ts "$@"
