#!/usr/bin/env bash
# Builds the container image and runs it, with podman (these machines have no Docker engine and reach no image
# registry): the base is made from Debian's packages (debootstrap, then nodejs, npm and a compiler with apt), imported
# into podman, and the Dockerfile is built on it. Then, all on loopback (host network):
#   1. the image on its own: runs as a non-root user, holds no sources or tests, `gatehouse serve` answers /readyz and
#      the image's HEALTHCHECK passes, a request with a minted token goes through, the quickstart self-check
#      (`gatehouse quickstart --once`) passes inside it;
#   2. a Compose-like set of processes (deploy/compose/ without Compose): two gateway containers on a PostgreSQL store,
#      nginx in front (TCP for PostgreSQL, HTTP), the pgvector database and the LLM stand-ins in containers, then
#      deploy/compose/check.mjs (the quickstart's checks) through nginx, in a container.
# Exit 0: all passed; 1: a check failed; 3: this machine cannot build or run containers (said why). Needs root.
# Storage (the base image is kept between runs): ${GATEHOUSE_SMOKE_STORAGE:-/var/tmp/gatehouse-container-smoke}.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
root=$PWD
storage=${GATEHOUSE_SMOKE_STORAGE:-/var/tmp/gatehouse-container-smoke}
base=localhost/gatehouse-debian-node:trixie
image=localhost/gatehouse:smoke
cannot() { echo "container-smoke: cannot run here: $*" >&2; exit 3; }
step() { echo "== container-smoke: $* ($(date -u +%H:%M:%S))"; }

[ "$(id -u)" -eq 0 ] || cannot 'needs root (debootstrap, chroot, podman)'
need=()
command -v podman >/dev/null || need+=(podman)
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v nginx >/dev/null || need+=(nginx-light)
[ -f /usr/lib/nginx/modules/ngx_stream_module.so ] || need+=(libnginx-mod-stream) # TCP balancing for PostgreSQL
command -v curl >/dev/null || need+=(curl)
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql)
if [ ${#need[@]} -gt 0 ]; then
  step "installing ${need[*]}"
  { apt-get update -q && apt-get install -y -q --no-install-recommends "${need[@]}"; } >/dev/null ||
    cannot "apt-get install ${need[*]} failed"
fi

mkdir -p "$storage"
# cgroupfs and runc: crun refuses a hybrid cgroup v1/v2 hierarchy (as on these machines), and no systemd runs here.
podman_base=(podman --root "$storage/storage" --runroot "$storage/run" --cgroup-manager cgroupfs)
# Native overlay where the kernel allows it (minutes); vfs (a full copy per layer, much slower) otherwise.
if "${podman_base[@]}" --storage-driver overlay info >/dev/null 2>&1; then
  podman=("${podman_base[@]}" --storage-driver overlay)
else
  rm -rf "$storage/storage" "$storage/run"
  podman=("${podman_base[@]}" --storage-driver vfs)
fi

# Limits no higher than this shell's: podman otherwise raises them, which needs CAP_SYS_RESOURCE (not every root has
# it: these machines' does not). No health-check timers (they need systemd): `podman healthcheck run` checks once.
run_opts=(--runtime runc --ulimit "nofile=$(ulimit -n):$(ulimit -n)" --ulimit nproc=4096:4096)
work=$(mktemp -d)
containers=()
nginx_pid=''
pg_dir=''
cleanup() {
  for c in "${containers[@]}"; do "${podman[@]}" rm -f -t 2 "$c" >/dev/null 2>&1 || true; done
  [ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null || true
  if [ -n "$pg_dir" ]; then
    su postgres -s /bin/sh -c "$pg_bin/pg_ctl -D '$pg_dir/data' -m immediate stop" >/dev/null 2>&1 || true
    rm -rf "$pg_dir"
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# --- the base image: Debian trixie (Node.js 20.19 in its packages) with npm, Node's headers and a compiler --------
if ! "${podman[@]}" image exists "$base"; then
  step 'making the base image from Debian packages'
  # The Debian mirror this machine's apt already uses.
  mirror=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  [ -n "$mirror" ] || mirror=$(awk '$1 == "deb" { print $2; exit }' /etc/apt/sources.list 2>/dev/null || true)
  [ -n "$mirror" ] || cannot 'no Debian mirror in this machine’s apt sources'
  rootfs="$work/rootfs"
  debootstrap --variant=minbase trixie "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 ||
    { tail -20 "$work/debootstrap.log" >&2; cannot 'debootstrap failed'; }
  cp /etc/resolv.conf "$rootfs/etc/resolv.conf"
  # The image trusts the certificate authorities this machine trusts locally (an egress proxy's, where there is
  # one): npm ci inside the build reaches the registry through the same network.
  mkdir -p "$rootfs/usr/local/share/ca-certificates"
  cp /usr/local/share/ca-certificates/*.crt "$rootfs/usr/local/share/ca-certificates/" 2>/dev/null || true
  chroot "$rootfs" sh -c 'apt-get update -q && apt-get install -y -q --no-install-recommends \
      nodejs npm libnode-dev python3 make g++ ca-certificates && update-ca-certificates && apt-get clean' \
    >"$work/base.log" 2>&1 || { tail -20 "$work/base.log" >&2; cannot 'installing Node.js into the base failed'; }
  rm -rf "$rootfs/var/lib/apt/lists/"* "$rootfs/etc/resolv.conf"
  tar -C "$rootfs" -c . | "${podman[@]}" import - "$base" >/dev/null
  rm -rf "$rootfs"
fi

# --- the image ---------------------------------------------------------------------------------------------------
step 'building the image (Dockerfile)'
"${podman[@]}" build --isolation chroot --network host --format docker --build-arg "NODE_IMAGE=$base" \
  -t "$image" . >"$work/build.log" 2>&1 || { tail -30 "$work/build.log" >&2; echo 'container-smoke: build failed' >&2; exit 1; }

failed=0
passed=0
check() { # name, then a command that must succeed
  local name=$1
  shift
  if "$@" >"$work/check.log" 2>&1; then
    echo "ok   $name"
    passed=$((passed + 1))
  else
    echo "FAIL $name"
    sed 's/^/     /' "$work/check.log" | tail -15
    failed=$((failed + 1))
  fi
}
free_port() { node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }
run_bg() { # name, then podman run arguments
  local name=$1
  shift
  containers+=("$name")
  "${podman[@]}" run -d --name "$name" --network host "${run_opts[@]}" "$@" >/dev/null
}
wait_tcp() { # port on 127.0.0.1
  for _ in $(seq 1 120); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.5; done
  return 1
}
wait_http() { # url
  for _ in $(seq 1 120); do curl -fsS -o /dev/null "$1" 2>/dev/null && return 0; sleep 0.5; done
  return 1
}

# --- 1. the image on its own ---------------------------------------------------------------------------------------
step 'the image on its own'
check 'runs as user 10001, not root' sh -c "[ \"\$(${podman[*]} run --rm ${run_opts[*]} --no-healthcheck --entrypoint id $image -u)\" = 10001 ]"
check 'holds dist/ and production dependencies only (no src, tests, tsx, typescript)' \
  "${podman[@]}" run --rm "${run_opts[@]}" --no-healthcheck --entrypoint sh "$image" -c \
  'test -f /app/dist/main.js && ! test -e /app/src && ! test -e /app/test && ! test -e /app/node_modules/tsx && ! test -e /app/node_modules/typescript'

llm_port=$(free_port)
run_bg smoke-llm --no-healthcheck --entrypoint node -e STAND_IN_API_KEY=smoke-llm-key -e STAND_IN_HOST=127.0.0.1 \
  -e "STAND_IN_PORT=$llm_port" "$image" /app/dist/standins/openai.js
http_port=$(free_port)
admin_port=$(free_port)
mkdir -p "$work/solo-data" && chown 10001:10001 "$work/solo-data"
cat >"$work/solo.yaml" <<YAML
listen: { http: 127.0.0.1:$http_port, admin: 127.0.0.1:$admin_port }
identity: { devIssuer: { enabled: true, keyFile: /var/lib/gatehouse/dev.jwk.json } }
store: { sqlite: { path: /var/lib/gatehouse/gatehouse.db } }
audit: { checkpoints: { keyFile: /var/lib/gatehouse/audit-checkpoint.pem } }
resources:
  - name: llm
    protocol: http
    pathPrefix: /llm
    target: http://127.0.0.1:$llm_port
    credential: { header: authorization, value: "Bearer \${env:LLM_KEY}" }
    policy: [{ groups: [rag-readers], allow: [read], models: [gpt-4o-mini] }]
YAML
run_bg smoke-solo -v "$work/solo.yaml:/etc/gatehouse/gatehouse.yaml:ro" -v "$work/solo-data:/var/lib/gatehouse" \
  -e LLM_KEY=smoke-llm-key -e "GATEHOUSE_HEALTH_URL=http://127.0.0.1:$admin_port/readyz" "$image"
check 'gatehouse serve answers /readyz (default command, config at /etc/gatehouse/gatehouse.yaml)' \
  wait_http "http://127.0.0.1:$admin_port/readyz"
check "the image's HEALTHCHECK passes (node fetch of /readyz)" "${podman[@]}" healthcheck run smoke-solo
token=$("${podman[@]}" exec smoke-solo gatehouse token mint -c /etc/gatehouse/gatehouse.yaml --sub smoke \
  --groups rag-readers || true)
chat() { # model -> status code
  curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$http_port/llm/v1/chat/completions" \
    -H "authorization: Bearer $token" -H 'content-type: application/json' \
    -d "{\"model\":\"$1\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"
}
check 'a minted token reaches the upstream through the gateway (200)' sh -c "[ \"$(chat gpt-4o-mini)\" = 200 ]"
check 'another model is refused (403)' sh -c "[ \"$(chat gpt-4o)\" = 403 ]"
check 'quickstart --once: its self-check passes inside the image' sh -c "
  ${podman[*]} run --rm --network host ${run_opts[*]} --no-healthcheck --entrypoint sh $image -c \
    'cp /app/examples/quickstart/gatehouse.yaml /var/lib/gatehouse/ && gatehouse quickstart --once -c /var/lib/gatehouse/gatehouse.yaml' \
    >$work/quickstart.log 2>&1; status=\$?; cat $work/quickstart.log | grep -E 'model|SQL' ; [ \$status -eq 0 ] &&
  grep -qE 'allowed model +-> 200' $work/quickstart.log && grep -qE 'SQL nearest +-> 3 rows' $work/quickstart.log &&
  grep -qE 'SQL DELETE +-> refused 42501' $work/quickstart.log && ! grep -q 'NOT refused' $work/quickstart.log"

# --- 2. a Compose-like set of processes ----------------------------------------------------------------------------
step 'a Compose-like set: two replicas on a PostgreSQL store behind nginx'
pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
pg_dir=$(mktemp -d)
chown postgres "$pg_dir"
pg_port=$(free_port)
store_password=smoke-$(openssl rand -hex 8)
echo "$store_password" >"$pg_dir/pw" && chown postgres "$pg_dir/pw"
su postgres -s /bin/sh -c "$pg_bin/initdb -D '$pg_dir/data' -U gatehouse --auth=scram-sha-256 --pwfile='$pg_dir/pw' >/dev/null"
su postgres -s /bin/sh -c "$pg_bin/pg_ctl -D '$pg_dir/data' -o \"-p $pg_port -k '$pg_dir' -c listen_addresses=127.0.0.1\" -l '$pg_dir/log' -w start >/dev/null"
PGPASSWORD=$store_password "$pg_bin/createdb" -w -h 127.0.0.1 -p "$pg_port" -U gatehouse gatehouse

vectors_port=$(free_port)
vectors_password=smoke-vectors-$(openssl rand -hex 4)
run_bg smoke-vectors --no-healthcheck --entrypoint node -e STAND_IN_HOST=127.0.0.1 -e "STAND_IN_PORT=$vectors_port" \
  -e "STAND_IN_PASSWORD=$vectors_password" "$image" /app/dist/standins/vectors.js
check 'the pgvector stand-in accepts connections' wait_tcp "$vectors_port"
keys="$work/keys" && mkdir -p "$keys" && chown 10001:10001 "$keys"
env_args=(-e "GATEHOUSE_STORE_URL=postgres://gatehouse:$store_password@127.0.0.1:$pg_port/gatehouse"
  -e "GATEHOUSE_VECTORS_PASSWORD=$vectors_password" -e GATEHOUSE_LLM_API_KEY=smoke-llm-key
  -e "GATEHOUSE_LLM_URL=http://127.0.0.1:$llm_port")
replica_config() { # http, postgres, admin ports -> deploy/compose/gatehouse.yaml with loopback addresses
  sed -e "s/^  http: 0.0.0.0:8080/  http: 127.0.0.1:$1/" -e "s/^  postgres: 0.0.0.0:6432/  postgres: 127.0.0.1:$2/" \
    -e "s/^  admin: 0.0.0.0:9090/  admin: 127.0.0.1:$3/" -e 's/^      host: vectors$/      host: 127.0.0.1/' \
    -e "s/^      port: 5432$/      port: $vectors_port/" deploy/compose/gatehouse.yaml
}
replica_config 1 1 1 >"$work/init.yaml"
check 'init: the shared certificate and development key' "${podman[@]}" run --rm --network host "${run_opts[@]}" \
  --no-healthcheck --entrypoint node "${env_args[@]}" -v "$root/deploy/compose:/compose:ro" -v "$work/init.yaml:/etc/gatehouse/gatehouse.yaml:ro" \
  -v "$keys:/var/lib/gatehouse" "$image" /compose/init.mjs
declare -a r_http r_pg r_admin
for i in 1 2; do
  r_http[$i]=$(free_port) r_pg[$i]=$(free_port) r_admin[$i]=$(free_port)
  replica_config "${r_http[$i]}" "${r_pg[$i]}" "${r_admin[$i]}" >"$work/replica-$i.yaml"
  run_bg "smoke-gatehouse-$i" "${env_args[@]}" -v "$work/replica-$i.yaml:/etc/gatehouse/gatehouse.yaml:ro" \
    -v "$keys:/var/lib/gatehouse" -e "GATEHOUSE_INSTANCE_ID=replica-$i" \
    -e "GATEHOUSE_HEALTH_URL=http://127.0.0.1:${r_admin[$i]}/readyz" "$image"
done
for i in 1 2; do
  check "replica $i on the PostgreSQL store answers /readyz" wait_http "http://127.0.0.1:${r_admin[$i]}/readyz"
done

lb_http=$(free_port)
lb_pg=$(free_port)
mkdir -p "$work/nginx"
sed -e "s/gatehouse-1:6432/127.0.0.1:${r_pg[1]}/" -e "s/gatehouse-2:6432/127.0.0.1:${r_pg[2]}/" \
  -e "s/gatehouse-1:8080/127.0.0.1:${r_http[1]}/" -e "s/gatehouse-2:8080/127.0.0.1:${r_http[2]}/" \
  -e "s/listen 6432;/listen 127.0.0.1:$lb_pg;/" -e "s/listen 8080;/listen 127.0.0.1:$lb_http;/" \
  -e "s|^events|pid $work/nginx/nginx.pid;\nerror_log $work/nginx/error.log;\nevents|" \
  -e "s|^http {|http {\n  access_log off;\n  client_body_temp_path $work/nginx/body;\n  proxy_temp_path $work/nginx/proxy;|" \
  deploy/compose/nginx.conf >"$work/nginx/nginx.conf"
grep -q '^stream' "$work/nginx/nginx.conf"
# Debian's nginx loads the stream module from modules-enabled; a bare config must load it itself.
stream_module=$(ls /usr/lib/nginx/modules/ngx_stream_module.so 2>/dev/null || true)
[ -n "$stream_module" ] && sed -i "1i load_module $stream_module;" "$work/nginx/nginx.conf"
nginx -c "$work/nginx/nginx.conf" -g 'daemon off;' >"$work/nginx/out.log" 2>&1 &
nginx_pid=$!
lb_ready() { # any answer from a gateway through nginx (401 here: no token), not nginx's own 502
  local code
  for _ in $(seq 1 60); do
    code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$lb_http/llm/v1/models" || true)
    [ "$code" = 401 ] && return 0
    sleep 0.5
  done
  echo "nginx answered $code"
  cat "$work/nginx/out.log" "$work/nginx/error.log" 2>/dev/null
  return 1
}
check 'nginx (deploy/compose/nginx.conf) in front of both replicas' lb_ready
check "deploy/compose/check.mjs: the quickstart's checks through the balancer" sh -c "
  ${podman[*]} run --rm --network host ${run_opts[*]} --no-healthcheck --entrypoint node ${env_args[*]} \
    -e GATEHOUSE_HTTP_URL=http://127.0.0.1:$lb_http -e GATEHOUSE_PG_HOST=127.0.0.1 -e GATEHOUSE_PG_PORT=$lb_pg \
    -e GATEHOUSE_ADMIN_URL=http://127.0.0.1:${r_admin[1]} \
    -e VECTORS_URL=postgres://postgres:$vectors_password@127.0.0.1:$vectors_port/vectors \
    -v $root/deploy/compose:/compose:ro -v $work/replica-1.yaml:/etc/gatehouse/gatehouse.yaml:ro \
    -v $keys:/var/lib/gatehouse $image /compose/check.mjs"
sed 's/^/     /' "$work/check.log" | grep -E 'ok  |FAIL' || true
store_sessions() {
  PGPASSWORD=$store_password "$pg_bin/psql" -h 127.0.0.1 -p "$pg_port" -U gatehouse -d gatehouse -Atc \
    "SELECT count(DISTINCT subject) FROM sessions WHERE subject IN ('compose-job', 'compose-indexer')"
}
store_has_check_sessions() {
  for _ in $(seq 1 20); do [ "$(store_sessions 2>/dev/null)" = 2 ] && return 0; sleep 0.5; done
  echo "sessions of compose-job and compose-indexer in the store: $(store_sessions 2>&1)"
  return 1
}
check "the shared PostgreSQL store holds the check's sessions" store_has_check_sessions

echo "container-smoke: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
