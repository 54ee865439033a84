import { Command, CommanderError } from 'commander';
import { ConfigError } from '../config/load.js';
import { GatehouseError } from '../core/errors.js';

type Register = (program: Command) => void;

/**
 * Top-level command name -> the module that registers it. Only the module of the command being run is loaded (all
 * of them for help), so `gatehouse token mint` does not pay for the gateway, the SQL parser or the masking engine.
 */
const COMMANDS: Readonly<Record<string, () => Promise<Register>>> = Object.assign(Object.create(null), {
  serve: async () => (await import('./commands/serve.js')).registerServeCommand,
  quickstart: async () => (await import('./commands/quickstart.js')).registerQuickstartCommand,
  config: async () => (await import('./commands/config.js')).registerConfigCommands,
  token: async () => (await import('./commands/token.js')).registerTokenCommands,
  policy: async () => (await import('./commands/policy.js')).registerPolicyCommands,
  sessions: async () => (await import('./commands/sessions.js')).registerSessionsCommands,
  mask: async () => (await import('./commands/mask.js')).registerMaskCommand,
  quotas: async () => (await import('./commands/quotas.js')).registerQuotasCommands,
  reviews: async () => (await import('./commands/reviews.js')).registerReviewsCommands,
  access: async () => (await import('./commands/access.js')).registerAccessCommands,
  audit: async () => (await import('./commands/audit.js')).registerAuditCommands,
  report: async () => (await import('./commands/report.js')).registerReportCommand,
} satisfies Record<string, () => Promise<Register>>);

const program = new Command('gatehouse')
  .description('Identity-aware gateway for non-human identities')
  .version('0.1.0')
  .exitOverride()
  .showHelpAfterError();

try {
  const requested = process.argv[2];
  const loaders = requested !== undefined && COMMANDS[requested] ? [COMMANDS[requested]] : Object.values(COMMANDS);
  for (const load of loaders) (await load())(program);
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
