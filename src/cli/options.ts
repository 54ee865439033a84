import type { Command } from 'commander';
import { type LoadedConfig, loadConfigFile } from '../config/load.js';

/** Every command that reads the config takes `-c, --config FILE`, defaulting to $GATEHOUSE_CONFIG or ./gatehouse.yaml. */
export function withConfigOption(command: Command): Command {
  return command.option('-c, --config <file>', 'configuration file', process.env.GATEHOUSE_CONFIG ?? 'gatehouse.yaml');
}

export function loadConfigOption(options: { config: string }): LoadedConfig {
  return loadConfigFile(options.config);
}
