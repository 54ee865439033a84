import type { Command } from 'commander';
import { formatDuration } from '../../core/duration-text.js';
import { CliError, usageError } from '../exit-codes.js';
import { loadConfigOption, withConfigOption } from '../options.js';

export function registerTokenCommands(program: Command): void {
  const token = program.command('token').description('mint development tokens and inspect tokens');
  withConfigOption(
    token
      .command('mint')
      .description('print a token signed by the development issuer (only when the config enables it)'),
  )
    .requiredOption('--sub <subject>', 'token subject, e.g. ci-job')
    .option('--groups <list>', 'comma-separated groups', '')
    .option('--ttl <duration>', 'lifetime, e.g. 5m', '5m')
    .action(async (options: { config: string; sub: string; groups: string; ttl: string }) => {
      const { config, baseDir, file } = loadConfigOption(options);
      const dev = config.identity.devIssuer;
      if (!dev.enabled) {
        throw usageError(
          `token mint needs the development issuer: set identity.devIssuer.enabled: true in ${file} (development only; use your real issuer's tokens otherwise)`,
        );
      }
      const { parseDuration } = await import('../../core/duration.js');
      const ttlMs = parseDuration(options.ttl);
      if (ttlMs === undefined || ttlMs < 1000)
        throw usageError(`--ttl: expected a duration of 1s or more such as 5m, got "${options.ttl}"`);
      if (ttlMs > dev.maxTokenLifetime) {
        throw usageError(
          `--ttl ${options.ttl} is over the development issuer's maximum token lifetime of ${formatDuration(dev.maxTokenLifetime)}: ask for less, or raise identity.devIssuer.maxTokenLifetime`,
        );
      }
      const [{ DevIssuer }, { systemClock }] = await Promise.all([
        import('../../identity/dev-issuer.js'),
        import('../../core/clock.js'),
      ]);
      const issuer = await DevIssuer.open(dev, baseDir, systemClock);
      const groups = options.groups
        .split(',')
        .map((g) => g.trim())
        .filter(Boolean);
      process.stdout.write(`${await issuer.mint({ subject: options.sub, groups, ttlMs })}\n`);
    });

  withConfigOption(
    token
      .command('inspect')
      .description(
        "verify a token against the configured issuers and print its subject, groups and the policy rules that would apply (token as argument, or '-' / none for standard input)",
      ),
  )
    .argument('[token]', "the token; '-' or none reads it from standard input")
    .option('--no-verify', 'decode only: check nothing (says so loudly)')
    .option('--json', 'print JSON')
    .action(async (argument: string | undefined, options: { config: string; verify: boolean; json?: boolean }) => {
      const loaded = loadConfigOption(options);
      const { formatInspection, inspectToken, normaliseToken } = await import('../token-inspection.js');
      const text = argument === undefined || argument === '-' ? await readStdin() : argument;
      const value = normaliseToken(text);
      if (value.length === 0) throw usageError('no token: give it as an argument or on standard input');
      if (!options.verify)
        process.stderr.write('gatehouse: WARNING: --no-verify: the token is decoded, NOT verified\n');
      const inspection = await inspectToken(loaded, value, options.verify);
      process.stdout.write(
        options.json ? `${JSON.stringify(inspection, null, 2)}\n` : formatInspection(inspection, Date.now()),
      );
    });
}

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) throw new CliError('no token: give it as an argument, or pipe it in (token inspect -)', 2);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin) {
    size += (chunk as Buffer).length;
    if (size > 64 * 1024) throw usageError('standard input is larger than any token (64 KiB)');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
