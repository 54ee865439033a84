import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { loadConfigFile } from '../../src/config/load.js';
import { systemClock } from '../../src/core/clock.js';
import { DevIssuer } from '../../src/identity/dev-issuer.js';
import { freePort, type GatewayProcess, serveGateway } from './gateway-process.js';

/** A `gatehouse serve` process in front of an echo upstream, on a SQLite store in `dir/store/`, with a token. */
export interface EchoGateway {
  readonly upstream: Server;
  /** Every path the upstream was asked for, in order: what reached it. */
  readonly upstreamPaths: string[];
  readonly gateway: GatewayProcess;
  readonly http: number;
  readonly admin: number;
  /** A dev-issuer token of group `loaders`, which may read `/echo`. */
  readonly token: string;
}

/** Starts the echo upstream and the gateway (store: `store/audit.db` under `dir`, which must exist). */
export async function startEchoGateway(dir: string): Promise<EchoGateway> {
  const upstreamPaths: string[] = [];
  const upstream = createServer((req, res) => {
    upstreamPaths.push(req.url ?? '');
    const body = `echo ${req.url}`;
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  upstream.listen(0, '127.0.0.1');
  await once(upstream, 'listening');
  const http = await freePort();
  const admin = await freePort();
  const config = join(dir, 'gatehouse.yaml');
  writeFileSync(
    config,
    `listen: { http: 127.0.0.1:${http}, admin: 127.0.0.1:${admin} }
log: { level: warn }
identity: { devIssuer: { enabled: true, keyFile: dev.jwk.json } }
store: { sqlite: { path: store/audit.db } }
resources:
  - name: echo
    protocol: http
    pathPrefix: /echo
    target: http://127.0.0.1:${(upstream.address() as AddressInfo).port}
    policy: [{ groups: [loaders], allow: [read] }]
`,
  );
  const loaded = loadConfigFile(config);
  const issuer = await DevIssuer.open(loaded.config.identity.devIssuer, loaded.baseDir, systemClock);
  const token = await issuer.mint({ subject: 'load-job', groups: ['loaders'], ttlMs: 600_000 });
  const gateway = serveGateway(config);
  await gateway.ready(admin);
  return { upstream, upstreamPaths, gateway, http, admin, token };
}
