import type { KeyObject } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { eventsInTimeOrder } from '../../audit/chain-merge.js';
import { type ChainReport, type StoreReport, verifyStore } from '../../audit/chain-verifier.js';
import { generateCheckpointKeys, keyRing, publicKeyFromPem } from '../../audit/checkpoint.js';
import { readKey } from '../../audit/checkpoint-key.js';
import { parseCheckpointLines } from '../../audit/checkpointer.js';
import { exportLine } from '../../audit/export-sink.js';
import type { GatehouseConfig } from '../../config/schema.js';
import { GatehouseError, isGatehouseError } from '../../core/errors.js';
import { loadConfigOption, withConfigOption } from '../options.js';
import { parseSince, withStore } from './sessions.js';

/** `gatehouse audit verify|keygen|export|forensic`: tamper evidence, export and forensic reads over the store. */
export function registerAuditCommands(program: Command): void {
  const audit = program.command('audit').description('verify, export and inspect the audit log');

  withConfigOption(audit.command('verify').description("check every instance's hash chain and its signed checkpoints"))
    .option('--public-key <file...>', 'Ed25519 public key(s) (PEM) that signed checkpoints')
    .option(
      '--against <file...>',
      'checkpoints sent out of the store (audit.checkpoints.sink file): the chains must agree with them too',
    )
    .option('--json', 'print JSON')
    .action(async (options: { config: string; publicKey?: string[]; against?: string[]; json?: boolean }) => {
      const loaded = loadConfigOption(options);
      const keys = verificationKeys(loaded.config, loaded.baseDir, options.publicKey);
      const external = (options.against ?? []).flatMap((f) => parseCheckpointLines(readText(f)));
      if (options.against && external.length === 0) {
        throw new GatehouseError('request.invalid', `no checkpoints found in ${options.against.join(', ')}`);
      }
      const report = await withStore(options, (store) => verifyStore(store, { keys: keyRing(keys), external }));
      process.stdout.write(options.json ? `${JSON.stringify(report, null, 2)}\n` : formatStore(report, keys.length));
      if (!report.ok) process.exitCode = 1;
    });

  audit
    .command('keygen')
    .description('create an Ed25519 key pair for signing audit checkpoints')
    .option('--private-key <file>', 'where to write the private key (mode 600)', 'audit-signing.pem')
    .option('--public-key <file>', 'where to write the public key', 'audit-signing.pub.pem')
    .action((options: { privateKey: string; publicKey: string }) => {
      for (const file of [options.privateKey, options.publicKey]) {
        if (existsSync(file)) throw new GatehouseError('request.invalid', `${file} exists; not overwriting a key`);
      }
      const keys = generateCheckpointKeys();
      writeFileSync(options.privateKey, keys.privatePem, { mode: 0o600, flag: 'wx' });
      writeFileSync(options.publicKey, keys.publicPem, { mode: 0o644, flag: 'wx' });
      process.stdout.write(
        `key ${keys.keyId}: private key in ${options.privateKey}, public key in ${options.publicKey}\n` +
          'Keep the private key out of the store and of version control. In the config:\n' +
          `  audit:\n    checkpoints:\n      signingKey: \${file:${options.privateKey}}\n` +
          `      publicKey: \${file:${options.publicKey}}\n`,
      );
    });

  withConfigOption(audit.command('export').description("print every instance's events as JSON lines, in time order"))
    .option('--since <duration>', 'only events recorded within this long ago, e.g. 7d')
    .option(
      '--after <chain:seq...>',
      'only events after these positions (a previous export’s last `chain` and `seq` per chain)',
    )
    .action(async (options: { config: string; since?: string; after?: string[] }) => {
      const after = new Map<string, number>();
      for (const position of options.after ?? []) {
        const match = /^(.+):(\d+)$/.exec(position);
        if (!match) throw new GatehouseError('request.invalid', '--after expects chain:seq, e.g. default:120');
        after.set(match[1] as string, Number(match[2]));
      }
      const since = parseSince(options.since);
      await withStore(options, async (store) => {
        for await (const page of eventsInTimeOrder(store, { after, ...(since === undefined ? {} : { since }) })) {
          const text = page.map((e) => `${exportLine(e)}\n`).join('');
          if (!process.stdout.write(text)) await new Promise((r) => process.stdout.once('drain', r));
        }
      });
    });

  withConfigOption(
    audit
      .command('forensic')
      .description('decrypt a session’s forensic copies (auditor groups only; every read is audited)')
      .argument('<session>', 'session id or unique prefix'),
  )
    .requiredOption('--token <token>', 'your access token; its groups must include an auditor group')
    .option('--json', 'print JSON')
    .action(async (id: string, options: { config: string; token: string; json?: boolean }) => {
      const { config, baseDir } = loadConfigOption(options);
      // Only this subcommand verifies tokens and decrypts: the others do not load jose, pino or the vault.
      const [{ ForensicVault }, { pino }, { createTokenVerifier }, { systemClock }] = await Promise.all([
        import('../../audit/forensic.js'),
        import('pino'),
        import('../../identity/create-verifier.js'),
        import('../../core/clock.js'),
      ]);
      const vault = ForensicVault.forReading(config.audit.forensic);
      const logger = pino({ level: 'silent' });
      const verifier = await createTokenVerifier(config, baseDir, systemClock, logger);
      const identity = await verifier.verify(options.token).catch((error: unknown) => {
        throw isGatehouseError(error) ? new GatehouseError(error.code) : new GatehouseError('auth.invalid_token');
      });
      await withStore(options, async (store) => {
        const found = await store.getSession(id);
        if (!found) throw new GatehouseError('request.not_found', `no session matches "${id}"`);
        const allowed = vault.mayRead(identity.groups);
        // The read (or the refused attempt) is durable before anything is decrypted.
        await store.appendEvents([
          {
            sessionId: found.summary.id,
            type: 'forensic.read',
            at: Date.now(),
            payload: {
              subject: identity.subject,
              issuer: identity.issuer,
              groups: identity.groups,
              tokenId: identity.tokenId,
              verdict: allowed ? 'allow' : 'deny',
            },
          },
        ]);
        if (!allowed) {
          throw new GatehouseError('policy.denied', 'reading forensic copies needs membership of an auditor group');
        }
        const copies = (await store.forensicCopies(found.summary.id)).map((c) => ({
          seq: c.seq,
          at: c.at,
          response: vault.open(c),
        }));
        if (options.json) {
          process.stdout.write(`${JSON.stringify({ session: found.summary.id, copies }, null, 2)}\n`);
          return;
        }
        if (copies.length === 0) process.stdout.write('no forensic copies for this session\n');
        for (const c of copies) {
          process.stdout.write(`#${c.seq} ${new Date(c.at).toISOString()}\n${JSON.stringify(c.response, null, 2)}\n`);
        }
      });
    });
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new GatehouseError('request.invalid', `cannot read ${file} (${(error as NodeJS.ErrnoException).code})`);
  }
}

/**
 * --public-key files, else the configured public key, else the public half of the configured signing key, else of
 * the key the gateway generated (audit.checkpoints.keyFile), when this machine has it.
 */
function verificationKeys(config: GatehouseConfig, baseDir: string, files: readonly string[] | undefined): KeyObject[] {
  if (files && files.length > 0) return files.map((f) => publicKeyFromPem(readText(f), f));
  const { publicKey, signingKey, keyFile } = config.audit.checkpoints;
  if (publicKey !== undefined) return [publicKeyFromPem(publicKey, 'audit.checkpoints.publicKey')];
  if (signingKey !== undefined) return [publicKeyFromPem(signingKey, 'audit.checkpoints.signingKey')];
  const generated = readKey(resolve(baseDir, keyFile));
  return generated === undefined ? [] : [publicKeyFromPem(generated, keyFile)];
}

function formatStore(report: StoreReport, keys: number): string {
  if (report.chains.length === 0) return 'audit log is empty: no chains\n';
  const chains = report.chains.length === 1 ? '1 chain' : `${report.chains.length} chains`;
  const verdict = report.ok ? 'OK' : `BROKEN in ${report.chains.filter((c) => !c.ok).length}`;
  return `${report.chains.map((c) => formatVerify(c, keys)).join('')}${chains}: ${verdict}\n`;
}

function formatVerify(r: ChainReport, keys: number): string {
  const lines: string[] = [];
  if (r.problem) {
    lines.push(`audit chain ${r.chain} BROKEN at event ${r.problem.eventId} (${r.problem.kind}): ${r.problem.message}`);
  } else {
    const range = r.firstId === null ? 'no events' : `${r.events} events (ids ${r.firstId}..${r.lastId})`;
    lines.push(`audit chain ${r.chain} OK: ${range}`);
  }
  const sent = r.externalCheckpoints > 0 ? `; ${r.externalCheckpoints} of them sent out of the store` : '';
  lines.push(`  checkpoints: ${r.checkpoints}, ${r.signedCheckpoints} with a valid signature${sent}`);
  if (r.anchor) {
    lines.push(
      `  history before event ${r.anchor.eventId + 1} was pruned; anchored by signed checkpoint #${r.anchor.id}`,
    );
  }
  if (keys === 0 && r.checkpoints > 0) {
    lines.push('  warning: signatures not checked: no public key (--public-key or audit.checkpoints.publicKey)');
  }
  if (r.ok && r.unsignedTail > 0) {
    lines.push(`  note: the last ${r.unsignedTail} events are not yet covered by a signed checkpoint`);
  }
  return `${lines.join('\n')}\n`;
}
