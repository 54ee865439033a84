import type { Command } from 'commander';
import { ConfigError } from '../../config/load.js';
import { preflightIssues } from '../../config/preflight.js';
import { loadConfigOption, withConfigOption } from '../options.js';

export function registerConfigCommands(program: Command): void {
  const config = program.command('config').description('work with configuration files');
  withConfigOption(
    config
      .command('check')
      .description(
        'validate a configuration file and what serve needs (files, TLS key pair, approvers); exit 2 naming each mistake',
      ),
  ).action((options: { config: string }) => {
    const loaded = loadConfigOption(options);
    const issues = preflightIssues(loaded);
    if (issues.length > 0) throw new ConfigError(loaded.file, issues);
    const { config: parsed, file } = loaded;
    const resources = parsed.resources.map((r) => `${r.name} (${r.protocol})`).join(', ') || 'none';
    process.stdout.write(
      `${file}: ok\n  resources: ${resources}\n  issuers: ${parsed.identity.issuers.length}${parsed.identity.devIssuer.enabled ? ' + development issuer (not for production)' : ''}\n`,
    );
  });
}
