#!/usr/bin/env bash
# Worst-case LLM cost: prompt token counting (writes bench/results/llm-cost.md).
set -euo pipefail
cd "$(dirname "$0")/../.."
node --import tsx bench/llm-cost/bench.ts
