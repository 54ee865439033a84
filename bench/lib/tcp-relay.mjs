// The Node floor for a proxy: a bare TCP relay that pipes each client connection to the target and back, with no
// parsing, policy or audit. Whatever a Gatehouse data path costs above this is ours; below it is Node's sockets.
// Plain JavaScript so it runs as `node bench/lib/tcp-relay.mjs <listen-port> <target-host> <target-port>` without a
// loader, in a process of its own (its CPU time is measured as the other proxies' is).
import { connect, createServer } from 'node:net';

const [listenPort, targetHost, targetPort] = process.argv.slice(2);
if (!listenPort || !targetHost || !targetPort) {
  console.error('usage: node bench/lib/tcp-relay.mjs <listen-port> <target-host> <target-port>');
  process.exit(2);
}

const server = createServer({ noDelay: true }, (client) => {
  const upstream = connect({ host: targetHost, port: Number(targetPort), noDelay: true });
  client.pipe(upstream);
  upstream.pipe(client);
  const close = () => {
    client.destroy();
    upstream.destroy();
  };
  client.on('error', close).on('close', close);
  upstream.on('error', close).on('close', close);
});
server.listen(Number(listenPort), '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
