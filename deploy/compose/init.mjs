// deploy/compose/ `init` service: runs once before the replicas, in the gatehouse image. Makes what both replicas
// share on the gatehouse-keys volume: a self-signed certificate for the PostgreSQL listener and the development
// issuer's key (`gatehouse token mint` creates it), so two replicas starting together do not each make their own.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire('/app/package.json'); // the image's own dependencies
const { generate } = require('selfsigned');

const TLS_DIR = '/var/lib/gatehouse/tls';
if (!existsSync(`${TLS_DIR}/cert.pem`)) {
  const now = Date.now();
  const generated = await generate([{ name: 'commonName', value: 'gatehouse-compose' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: new Date(now - 60_000),
    notAfterDate: new Date(now + 365 * 24 * 3_600_000),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 2, value: 'lb' },
          { type: 7, ip: '127.0.0.1' },
        ],
      },
    ],
  });
  mkdirSync(TLS_DIR, { recursive: true, mode: 0o700 });
  writeFileSync(`${TLS_DIR}/key.pem`, generated.private, { mode: 0o600 });
  writeFileSync(`${TLS_DIR}/cert.pem`, generated.cert, { mode: 0o644 });
  console.log('init: PostgreSQL listener certificate written');
}
execFileSync(
  'gatehouse',
  ['token', 'mint', '-c', '/etc/gatehouse/gatehouse.yaml', '--sub', 'compose-init', '--ttl', '1m'],
  {
    stdio: ['ignore', 'ignore', 'inherit'],
  },
);
console.log('init: development issuer key ready');
