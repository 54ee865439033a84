import type { Command } from 'commander';
import { loadSqlParser } from '../../audit/accessed-objects.js';
import { ReportBuilder, type SessionOwner } from '../../audit/report.js';
import { formatReport } from '../../audit/report-view.js';
import { GatehouseError } from '../../core/errors.js';
import { withConfigOption } from '../options.js';
import { parseSince, withStore } from './sessions.js';

/** `gatehouse report --since 7d`: who reached what, how often; what was denied, reviewed and masked. */
export function registerReportCommand(program: Command): void {
  withConfigOption(program.command('report').description('summarise access from the audit log'))
    .option('--since <duration>', 'the window, e.g. 7d or 12h', '7d')
    .option('--json', 'print JSON')
    .action(async (options: { config: string; since: string; json?: boolean }) => {
      const since = parseSince(options.since);
      if (since === undefined) throw new GatehouseError('request.invalid', '--since is required');
      const until = Date.now();
      await loadSqlParser();
      const report = await withStore(options, async (store) => {
        const owners = new Map<string, SessionOwner>();
        const builder = new ReportBuilder(since, until, owners);
        const first = await store.firstEventIdAt(since);
        if (first === undefined) return builder.build();
        for (let page = await store.readEvents(first - 1, 1000); page.length > 0; ) {
          for (const event of page) {
            if (builder.needsOwner(event)) {
              // The session started before the window: its owner comes from the sessions index.
              const found = await store.getSession(event.sessionId);
              if (found) owners.set(event.sessionId, found.summary);
            }
            builder.add(event);
          }
          page = await store.readEvents(page.at(-1)!.id, 1000);
        }
        return builder.build();
      });
      process.stdout.write(options.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
    });
}
