# Shared shell helpers for bench/*/run.sh. Benchmarks install their own tools: CI does not run them.

# ensure_tools COMMAND:PACKAGE ... installs the Debian packages whose commands are missing.
ensure_tools() {
  local missing=() pair
  for pair in "$@"; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "bench: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -q -o DPkg::Lock::Timeout=600 --no-install-recommends "${missing[@]}" >/dev/null; then
    apt-get update -q >/dev/null
    apt-get install -y -q -o DPkg::Lock::Timeout=600 --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

# Runs a bench driver (TypeScript, through tsx like the CLI) from the repository root.
run_driver() {
  local driver=$1
  shift
  node --import tsx "$driver" "$@"
}
