import type { Command } from 'commander';
import { GatehouseError } from '../../core/errors.js';

interface ListedAgent {
  readonly id: string;
  readonly group: string | null;
  readonly subject: string;
  readonly resources: readonly string[];
  readonly lastSeen: string;
  readonly activeStreams: number;
}

/** `gatehouse agents list`: the agents connected to a gateway, from its admin listener's /readyz. */
export function registerAgentsCommands(program: Command): void {
  const agents = program.command('agents').description('agents connected to the gateway');
  agents
    .command('list')
    .description('list connected agents, their resources and when they were last seen')
    .option('--gateway <url>', 'admin listener base URL (default: $GATEHOUSE_ADMIN_URL)')
    .option('--json', 'print JSON')
    .action(async (options: { gateway?: string; json?: boolean }) => {
      const base = options.gateway ?? process.env.GATEHOUSE_ADMIN_URL;
      if (!base) throw new GatehouseError('request.invalid', 'give --gateway URL or set GATEHOUSE_ADMIN_URL');
      const response = await fetch(new URL('/readyz', base));
      const body = (await response.json()) as { status?: string; agents?: ListedAgent[] };
      if (body.agents === undefined)
        throw new GatehouseError('request.invalid', `the gateway reports no agents section (status ${body.status})`);
      if (options.json) {
        process.stdout.write(`${JSON.stringify(body.agents, null, 2)}\n`);
        return;
      }
      const rows = body.agents.map((a) => [
        a.id,
        a.group ?? '-',
        a.subject,
        a.resources.join(','),
        a.lastSeen,
        String(a.activeStreams),
      ]);
      const header = ['AGENT', 'GROUP', 'SUBJECT', 'RESOURCES', 'LAST SEEN', 'STREAMS'];
      const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
      for (const row of [header, ...rows])
        process.stdout.write(
          `${row
            .map((cell, i) => cell.padEnd(widths[i] ?? 0))
            .join('  ')
            .trimEnd()}\n`,
        );
    });
}
