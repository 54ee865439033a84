import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Background, type CommandLog, startBackground, waitForPort } from '../lib/processes.js';

/** One worker each, like the single-threaded gateway; no access log; keep-alive without a request cap. */
function nginxConfig(dir: string, name: string, server: string, extraHttp = ''): string {
  const temp = (kind: string) => `${kind}_temp_path ${join(dir, `${name}-${kind}`)};`;
  return `daemon off;
worker_processes 1;
pid ${join(dir, `${name}.pid`)};
error_log ${join(dir, `${name}-error.log`)} warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  ${['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map(temp).join('\n  ')}
  ${extraHttp}
  server {
${server}
  }
}
`;
}

/** The upstream: `return 200` with the fixed JSON body (no file I/O, no application code: the cheapest origin). */
export function upstreamConfig(dir: string, port: number, body: string): string {
  if (body.includes("'")) throw new Error('the body must not contain a single quote');
  return nginxConfig(
    dir,
    'upstream',
    `    listen 127.0.0.1:${port};
    location / {
      default_type application/json;
      return 200 '${body}';
    }`,
  );
}

/** The peer: a plain reverse proxy with upstream keep-alive, injecting a credential as the gateway does. */
export function proxyConfig(dir: string, port: number, upstreamPort: number): string {
  return nginxConfig(
    dir,
    'proxy',
    `    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Authorization "Bearer upstream-key";
    }`,
    `upstream backend {
    server 127.0.0.1:${upstreamPort};
    keepalive 128;
    keepalive_requests 1000000;
  }`,
  );
}

export async function startNginx(
  log: CommandLog,
  dir: string,
  name: string,
  config: string,
  port: number,
): Promise<Background> {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${name}.conf`);
  writeFileSync(path, config);
  const server = startBackground(log, `nginx-${name}`, 'nginx', [
    '-c',
    path,
    '-p',
    dir,
    '-e',
    join(dir, `${name}-error.log`),
  ]);
  await waitForPort(port, server);
  return server;
}
