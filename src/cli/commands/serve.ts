import type { Command } from 'commander';
import { Gateway } from '../../gateway/gateway.js';
import { loadConfigOption, withConfigOption } from '../options.js';

export function registerServeCommand(program: Command): void {
  withConfigOption(program.command('serve').description('run the gateway')).action(
    async (options: { config: string }) => {
      const gateway = await Gateway.start(loadConfigOption(options));
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
