import { Command, CommanderError } from 'commander';
import { ConfigError } from '../config/load.js';
import { GatehouseError } from '../core/errors.js';
import { registerConfigCommands } from './commands/config.js';
import { registerPolicyCommands } from './commands/policy.js';
import { registerQuickstartCommand } from './commands/quickstart.js';
import { registerServeCommand } from './commands/serve.js';
import { registerSessionsCommands } from './commands/sessions.js';
import { registerTokenCommands } from './commands/token.js';

const program = new Command('gatehouse')
  .description('Identity-aware gateway for non-human identities')
  .version('0.1.0')
  .exitOverride()
  .showHelpAfterError();

for (const register of [
  registerServeCommand,
  registerQuickstartCommand,
  registerConfigCommands,
  registerTokenCommands,
  registerPolicyCommands,
  registerSessionsCommands,
]) {
  register(program);
}

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) process.exit(error.exitCode);
  if (error instanceof ConfigError || error instanceof GatehouseError) {
    process.stderr.write(`gatehouse: ${error.message}\n`);
    process.exit(error instanceof ConfigError ? 2 : 1);
  }
  process.stderr.write(`gatehouse: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
}
