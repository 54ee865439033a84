import type { Command } from 'commander';
import { systemClock } from '../../core/clock.js';
import { parseDuration } from '../../core/duration.js';
import { DevIssuer } from '../../identity/dev-issuer.js';
import { loadConfigOption, withConfigOption } from '../options.js';

export function registerTokenCommands(program: Command): void {
  const token = program.command('token').description('development tokens');
  withConfigOption(
    token
      .command('mint')
      .description('print a token signed by the development issuer (only when the config enables it)'),
  )
    .requiredOption('--sub <subject>', 'token subject, e.g. ci-job')
    .option('--groups <list>', 'comma-separated groups', '')
    .option('--ttl <duration>', 'lifetime, e.g. 5m', '5m')
    .action(async (options: { config: string; sub: string; groups: string; ttl: string }) => {
      const { config, baseDir } = loadConfigOption(options);
      if (!config.identity.devIssuer.enabled) {
        throw new Error('the development issuer is not enabled in this configuration (identity.devIssuer.enabled)');
      }
      const ttlMs = parseDuration(options.ttl);
      if (ttlMs === undefined) throw new Error(`--ttl: expected a duration such as 5m, got "${options.ttl}"`);
      const issuer = await DevIssuer.open(config.identity.devIssuer, baseDir, systemClock);
      const groups = options.groups
        .split(',')
        .map((g) => g.trim())
        .filter(Boolean);
      process.stdout.write(`${await issuer.mint({ subject: options.sub, groups, ttlMs })}\n`);
    });
}
