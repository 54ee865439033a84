import type { Command } from 'commander';
import { loadConfigOption, withConfigOption } from '../options.js';

export function registerConfigCommands(program: Command): void {
  const config = program.command('config').description('work with configuration files');
  withConfigOption(
    config.command('check').description('validate a configuration file; exit 2 and name each mistake if invalid'),
  ).action((options: { config: string }) => {
    const { config: parsed, file } = loadConfigOption(options);
    const resources = parsed.resources.map((r) => `${r.name} (${r.protocol})`).join(', ') || 'none';
    process.stdout.write(
      `${file}: ok\n  resources: ${resources}\n  issuers: ${parsed.identity.issuers.length}${parsed.identity.devIssuer.enabled ? ' + development issuer (not for production)' : ''}\n`,
    );
  });
}
