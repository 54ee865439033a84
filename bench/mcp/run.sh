#!/usr/bin/env bash
# MCP tool calls per second, direct vs through Gatehouse, with the added latency (writes bench/results/mcp.*).
set -euo pipefail
cd "$(dirname "$0")/../.."
node --import tsx bench/mcp/bench.ts "$@"
