# Gatehouse container image. Two stages: `build` compiles better-sqlite3 (native) and dist/ (scripts/build.mjs);
# the runtime stage has only the production dependencies, dist/, bin/ and the quickstart config, and runs as a
# non-root user. No TypeScript loader at run time.
#
#   docker build -t gatehouse .
#   docker run -v ./gatehouse.yaml:/etc/gatehouse/gatehouse.yaml:ro -p 8080:8080 -p 6432:6432 -p 9090:9090 gatehouse
#
# NODE_IMAGE: any image with Node.js 20.18.1+ (22 and 24 work too) and npm; the build stage installs python3, make
# and g++ with apt-get when they are missing. scripts/container-smoke.sh builds from a Debian base made locally.
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
RUN if ! command -v g++ >/dev/null || ! command -v make >/dev/null || ! command -v python3 >/dev/null; then \
      apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*; \
    fi
WORKDIR /app
COPY package.json package-lock.json ./
# Production dependencies only (the build needs esbuild, which is one). Install scripts are skipped, then run for the
# two packages that need theirs; node-gyp takes Node's headers from the running Node's own prefix (no download).
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && export npm_config_nodedir="$(node -p "require('node:path').resolve(process.execPath, '../..')")" \
 && npm rebuild better-sqlite3 esbuild \
 && node -e "new (require('better-sqlite3'))(':memory:').prepare('select 1').get()"
COPY scripts/build.mjs scripts/build.mjs
COPY src src
COPY bin bin
COPY deploy/stand-in deploy/stand-in
COPY examples/quickstart/gatehouse.yaml examples/quickstart/gatehouse.yaml
RUN node scripts/build.mjs && rm -rf src scripts deploy

FROM ${NODE_IMAGE}
ENV NODE_ENV=production \
    GATEHOUSE_HEALTH_URL=http://127.0.0.1:9090/readyz
WORKDIR /app
COPY --from=build /app /app
# The command on PATH, as `npm install -g` would put it.
RUN ln -s /app/bin/gatehouse.js /usr/local/bin/gatehouse \
 && mkdir -p /etc/gatehouse /var/lib/gatehouse \
 && chown 10001:10001 /var/lib/gatehouse
# A numeric user, so Kubernetes' runAsNonRoot can verify it without a passwd entry. /var/lib/gatehouse is its
# writable place (the SQLite store, the development issuer's key); with the PostgreSQL store nothing is written.
USER 10001:10001
VOLUME ["/var/lib/gatehouse"]
EXPOSE 8080 6432 9090
# Readiness of the admin listener (no curl in the image: Node's fetch). GATEHOUSE_HEALTH_URL follows `listen.admin`.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch(process.env.GATEHOUSE_HEALTH_URL).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["gatehouse"]
CMD ["serve", "-c", "/etc/gatehouse/gatehouse.yaml"]
