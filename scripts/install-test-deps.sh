#!/usr/bin/env bash
# Installs, from Debian's packages, what the tests use beyond npm: PostgreSQL's clients (psql, pgbench), openssl,
# Chromium (the reviews page test), psycopg (the Python client test), docker-compose and unzip (test/deploy); with
# --server also Debian's PostgreSQL server (CI runs the PostgreSQL suites against it a second time). Only what is
# missing; needs root and apt-get. Called by `npm test` (scripts/run-tests.mjs) and .ci/run.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

need_apt=()
if [ "${1:-}" = --server ]; then
  ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need_apt+=(postgresql)
fi
command -v psql >/dev/null || need_apt+=(postgresql-client)
command -v pgbench >/dev/null || need_apt+=(postgresql-client)
command -v openssl >/dev/null || need_apt+=(openssl)
command -v chromium >/dev/null || need_apt+=(chromium)
/usr/bin/python3 -c 'import psycopg' 2>/dev/null || need_apt+=(python3-psycopg)
command -v docker-compose >/dev/null || need_apt+=(docker-compose) # test/deploy/compose: `config` needs no engine
command -v unzip >/dev/null || need_apt+=(unzip)                   # scripts/install-helm.sh
if [ ${#need_apt[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  echo "the tests also need these Debian packages: ${need_apt[*]} (install them as root with apt-get)" >&2
  exit 1
fi
echo "installing ${need_apt[*]} from Debian's packages" >&2
apt-get update -q
apt-get install -y -q --no-install-recommends "${need_apt[@]}"
