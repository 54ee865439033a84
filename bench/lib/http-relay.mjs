// The Node floor for an HTTP proxy: a bare reverse proxy on node:http with a keep-alive agent, that swaps the
// caller's Authorization header for the upstream's and streams bodies both ways; no token check, policy or audit.
// Whatever the gateway's HTTP path costs above this is ours; below it is Node's HTTP stack.
// Plain JavaScript so it runs as `node bench/lib/http-relay.mjs <listen-port> <target-host> <target-port> <auth>`
// without a loader, in a process of its own (its CPU time is measured as the other proxies' is).
import { Agent, createServer, request } from 'node:http';

const [listenPort, targetHost, targetPort, authorization] = process.argv.slice(2);
if (!listenPort || !targetHost || !targetPort || !authorization) {
  console.error('usage: node bench/lib/http-relay.mjs <listen-port> <target-host> <target-port> <authorization>');
  process.exit(2);
}

const agent = new Agent({ keepAlive: true, maxSockets: 256 });

const server = createServer((req, res) => {
  const upstream = request(
    {
      agent,
      host: targetHost,
      port: Number(targetPort),
      method: req.method,
      path: req.url,
      headers: { ...req.headers, host: `${targetHost}:${targetPort}`, authorization },
    },
    (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    },
  );
  upstream.on('error', () => {
    if (!res.headersSent) res.writeHead(502);
    res.end();
  });
  req.pipe(upstream);
});
server.keepAliveTimeout = 60_000;
server.listen(Number(listenPort), '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
