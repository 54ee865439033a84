import { randomUUID } from 'node:crypto';
import type { Command } from 'commander';
import { GatehouseError, isGatehouseError } from '../../core/errors.js';
import { ToolPins } from '../../protocols/mcp/tool-pins.js';
import { loadConfigOption, withConfigOption } from '../options.js';
import { withStore } from './sessions.js';

/** `gatehouse mcp tools | accept`: tool definitions that changed since they were pinned, and accepting one. */
export function registerMcpCommands(program: Command): void {
  const mcp = program.command('mcp').description('MCP tool definitions: list changed ones and accept them');

  withConfigOption(mcp.command('tools').description('list tools whose definition changed and waits for acceptance'))
    .option('--resource <name>', 'only this MCP resource')
    .option('--json', 'print JSON')
    .action(async (options: { config: string; resource?: string; json?: boolean }) => {
      const pending = await withStore(options, (store) =>
        new ToolPins(store, async () => undefined, { now: Date.now }).pending(options.resource),
      );
      if (options.json) {
        process.stdout.write(`${JSON.stringify(pending, null, 2)}\n`);
        return;
      }
      if (pending.length === 0) {
        process.stdout.write('no tool definition waits for acceptance\n');
        return;
      }
      for (const change of pending) {
        process.stdout.write(
          `${change.resource}/${change.tool} changed ${new Date(change.changedAt).toISOString()}\n` +
            `  pinned ${change.fingerprint}\n  new    ${change.pendingFingerprint}\n  ${change.pendingDefinition}\n`,
        );
      }
    });

  withConfigOption(
    mcp
      .command('accept <resource> <tool> <fingerprint>')
      .description("accept a tool's new definition (the fingerprint `mcp tools` shows), as a member of toolApprovers"),
  )
    .requiredOption('--token <token>', 'your own OIDC token (prefer $GATEHOUSE_TOKEN: argv is visible to others)')
    .action(async (resource: string, tool: string, fingerprint: string, options: { config: string; token: string }) => {
      const { config, baseDir } = loadConfigOption(options);
      const target = config.resources.find((r) => r.name === resource && r.protocol === 'mcp');
      if (target === undefined || target.protocol !== 'mcp')
        throw new GatehouseError('request.not_found', `no MCP resource is named "${resource}"`);
      const [{ pino }, { createTokenVerifier }, { systemClock }] = await Promise.all([
        import('pino'),
        import('../../identity/create-verifier.js'),
        import('../../core/clock.js'),
      ]);
      const verifier = await createTokenVerifier(config, baseDir, systemClock, pino({ level: 'silent' }));
      const identity = await verifier.verify(options.token).catch((error: unknown) => {
        throw isGatehouseError(error) ? new GatehouseError(error.code) : new GatehouseError('auth.invalid_token');
      });
      if (!identity.groups.some((group) => target.toolApprovers.includes(group)))
        throw new GatehouseError('policy.denied', `accepting tools of ${resource} needs a group of its toolApprovers`);
      const accepted = await withStore(options, (store) =>
        new ToolPins(store, (event) => store.appendEvents([event]), systemClock).acceptChange(
          resource,
          tool,
          fingerprint,
          `${identity.issuer} ${identity.subject}`,
          randomUUID(),
        ),
      );
      if (!accepted)
        throw new GatehouseError(
          'request.not_found',
          `no pending definition of ${resource}/${tool} has that fingerprint`,
        );
      process.stdout.write(`accepted ${resource}/${tool} ${fingerprint}\n`);
    });
}
