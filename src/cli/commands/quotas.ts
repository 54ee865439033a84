import type { Command } from 'commander';
import { FEATURE_MIGRATIONS } from '../../gateway/store-migrations.js';
import { Quotas } from '../../quotas/quotas.js';
import { openStore } from '../../store/open-store.js';
import { loadConfigOption, withConfigOption } from '../options.js';

interface ShowOptions {
  readonly config: string;
  readonly json?: boolean;
  readonly all?: boolean;
}

/** `gatehouse quotas show`: usage of every budget bucket in its current window, from the configured store. */
export function registerQuotasCommands(program: Command): void {
  const quotas = program.command('quotas').description('token and request budgets');
  withConfigOption(quotas.command('show').description('list budget usage in the current windows'))
    .option('--all', 'include windows that have ended')
    .option('--json', 'print JSON')
    .action(async (options: ShowOptions) => {
      const { config, baseDir } = loadConfigOption(options);
      const store = await openStore(config.store, baseDir, { migrations: FEATURE_MIGRATIONS });
      try {
        const rows = await new Quotas(config.quotas, store).usage(options.all === true);
        if (options.json) {
          process.stdout.write(
            `${JSON.stringify(
              rows.map((r) => ({ ...r, resetAt: new Date(r.windowStart + r.windowMs).toISOString() })),
              null,
              2,
            )}\n`,
          );
          return;
        }
        if (rows.length === 0) {
          process.stdout.write('no budget has been used in the current windows\n');
          return;
        }
        const lines = [['BUDGET', 'BUCKET', 'TOKENS', 'IN FLIGHT', 'REQUESTS', 'RESETS']];
        // Money budgets count micro-dollars: shown in dollars.
        const money = new Set(config.quotas.budgets.filter((b) => b.usd !== undefined).map((b) => b.name));
        const amount = (budget: string, value: number | null) =>
          value === null ? '-' : money.has(budget) ? `$${(value / 1_000_000).toFixed(4)}` : String(value);
        for (const r of rows) {
          lines.push([
            r.budget,
            r.bucket,
            `${amount(r.budget, r.usedTokens)}/${amount(r.budget, r.tokenLimit)}`,
            amount(r.budget, r.reservedTokens),
            `${r.usedRequests + r.reservedRequests}/${r.requestLimit ?? '-'}`,
            new Date(r.windowStart + r.windowMs).toISOString(),
          ]);
        }
        const widths = lines[0]!.map((_, i) => Math.max(...lines.map((l) => l[i]!.length)));
        process.stdout.write(
          `${lines
            .map((l) =>
              l
                .map((cell, i) => cell.padEnd(widths[i]!))
                .join('  ')
                .trimEnd(),
            )
            .join('\n')}\n`,
        );
      } finally {
        await store.close();
      }
    });
}
