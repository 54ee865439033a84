import type { Command } from 'commander';
import { ConfigError } from '../../config/load.js';
import { preflightIssues } from '../../config/preflight.js';
import { loadConfigOption, withConfigOption } from '../options.js';

export function registerServeCommand(program: Command): void {
  withConfigOption(program.command('serve').description('run the gateway')).action(
    async (options: { config: string }) => {
      const loaded = loadConfigOption(options);
      // Missing files, a key that is not the certificate's, a review nobody may approve: refused before anything listens.
      const issues = preflightIssues(loaded);
      if (issues.length > 0) throw new ConfigError(loaded.file, issues);
      const { Gateway } = await import('../../gateway/gateway.js');
      const gateway = await Gateway.start(loaded);
      await waitForSignal();
      await gateway.stop();
    },
  );
}

/** Resolves on the first SIGINT or SIGTERM; a second one exits at once. */
export function waitForSignal(): Promise<void> {
  return new Promise((resolve) => {
    const onSignal = () => {
      process.once('SIGINT', () => process.exit(130));
      process.once('SIGTERM', () => process.exit(143));
      resolve();
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });
}
