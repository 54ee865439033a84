#!/usr/bin/env bash
# The EXPLAIN round trip of maxCost/maxRows rules (writes bench/results/thresholds.md).
set -euo pipefail
cd "$(dirname "$0")/../.."
node --import tsx bench/thresholds/bench.ts
