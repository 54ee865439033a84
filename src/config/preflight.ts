import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { type ConfigIssue, formatPath, type LoadedConfig } from './load.js';

type Position = { line?: number; column?: number };

/**
 * What `serve` will need beyond a valid schema, checked before anything listens: files exist and parse, the TLS key
 * belongs to the certificate, every rule that sends operations to review names approvers. `config check` prints
 * these; `serve` refuses to start on any of them.
 */
export function preflightIssues(loaded: LoadedConfig): ConfigIssue[] {
  const { config, baseDir } = loaded;
  const issues: ConfigIssue[] = [];
  const at = (path: readonly PropertyKey[]): Position => loaded.positionOf?.(path) ?? {};
  const add = (path: readonly PropertyKey[], message: string) =>
    issues.push({ path: formatPath(path), ...at(path), message });
  const read = (path: readonly PropertyKey[], file: string): string | undefined => {
    const absolute = resolve(baseDir, file);
    try {
      return readFileSync(absolute, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      add(path, `cannot read ${absolute} (${code === 'ENOENT' ? 'no such file' : code})`);
      return undefined;
    }
  };

  const checkKeyPair = (section: 'postgres' | 'agents', pair: { cert: string; key: string } | undefined) => {
    if (pair === undefined) return;
    const certPem = read([section, 'tls', 'cert'], pair.cert);
    const keyPem = read([section, 'tls', 'key'], pair.key);
    const cert = certPem === undefined ? undefined : parse(() => new X509Certificate(certPem));
    const key = keyPem === undefined ? undefined : parse(() => createPrivateKey(keyPem));
    if (certPem !== undefined && cert === undefined) add([section, 'tls', 'cert'], 'not a PEM certificate');
    if (keyPem !== undefined && key === undefined) add([section, 'tls', 'key'], 'not a PEM private key');
    if (cert !== undefined && key !== undefined && !cert.checkPrivateKey(key)) {
      add([section, 'tls', 'key'], `this key does not belong to the certificate in ${pair.cert}`);
    }
  };
  checkKeyPair('postgres', config.postgres.tls);
  checkKeyPair('agents', config.agents?.tls);

  config.identity.issuers.forEach((issuer, index) => {
    if (issuer.caFile === undefined) return;
    const path = ['identity', 'issuers', index, 'caFile'];
    const pem = read(path, issuer.caFile);
    if (pem !== undefined && parse(() => new X509Certificate(pem)) === undefined) add(path, 'not a PEM CA certificate');
  });

  const dev = config.identity.devIssuer;
  if (dev.enabled && existsSync(resolve(baseDir, dev.keyFile))) {
    const path = ['identity', 'devIssuer', 'keyFile'];
    const text = read(path, dev.keyFile);
    const jwk = text === undefined ? undefined : parse(() => JSON.parse(text) as Record<string, unknown>);
    if (text !== undefined && (jwk?.['crv'] !== 'Ed25519' || typeof jwk['d'] !== 'string')) {
      add(path, 'not an Ed25519 private JWK (delete it to have a new one created)');
    }
  }

  const checkpoints = config.audit.checkpoints;
  if (
    checkpoints.signingKey !== undefined &&
    parse(() => createPrivateKey(checkpoints.signingKey as string)) === undefined
  )
    add(['audit', 'checkpoints', 'signingKey'], 'not a PEM private key (gatehouse audit keygen makes one)');
  if (
    checkpoints.publicKey !== undefined &&
    parse(() => createPublicKey(checkpoints.publicKey as string)) === undefined
  )
    add(['audit', 'checkpoints', 'publicKey'], 'not a PEM public key');

  config.audit.export.sinks.forEach((sink, index) => {
    if (sink.type !== 'file') return;
    const directory = dirname(resolve(baseDir, sink.path));
    if (!isDirectory(directory))
      add(['audit', 'export', 'sinks', index, 'path'], `directory ${directory} does not exist`);
  });

  config.resources.forEach((resource, r) => {
    resource.policy.forEach((rule, index) => {
      if (rule.review.length > 0 && rule.approvers.length === 0) {
        add(
          ['resources', r, 'policy', index],
          `this rule sends ${rule.review.join(', ')} to review but names no approvers: add approvers: [GROUP]`,
        );
      }
    });
  });
  return issues;
}

function parse<T>(build: () => T): T | undefined {
  try {
    return build();
  } catch {
    return undefined;
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
