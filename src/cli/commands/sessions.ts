import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import { buildTimeline } from '../../audit/replay.js';
import { renderReplay } from '../../audit/replay-view.js';
import { formatSessionDetail, formatSessionList } from '../../audit/session-view.js';
import { unfoldResults } from '../../core/audit-event.js';
import { parseDuration } from '../../core/duration.js';
import { GatehouseError } from '../../core/errors.js';
import { FEATURE_MIGRATIONS } from '../../gateway/store-migrations.js';
import { openStore } from '../../store/open-store.js';
import type { Store } from '../../store/store.js';
import { MIN_SESSION_PREFIX } from '../../store/store-reader.js';
import { loadConfigOption, withConfigOption } from '../options.js';

interface ListOptions {
  readonly config: string;
  readonly since?: string;
  readonly subject?: string;
  readonly limit: string;
  readonly json?: boolean;
}

interface ShowOptions {
  readonly config: string;
  readonly json?: boolean;
}

/** `gatehouse sessions list|show|replay`: reads recorded sessions from the configured store. */
export function registerSessionsCommands(program: Command): void {
  const sessions = program.command('sessions').description('list and inspect recorded sessions');

  withConfigOption(sessions.command('list').description('list sessions, newest first'))
    .option('--since <duration>', 'only sessions started within this long ago, e.g. 7d, 12h')
    .option('--subject <subject>', 'only sessions of this token subject')
    .option('--limit <n>', 'most sessions to show', '50')
    .option('--json', 'print JSON')
    .action(async (options: ListOptions) => {
      const limit = Number(options.limit);
      if (!Number.isInteger(limit) || limit < 1) {
        throw new GatehouseError('request.invalid', '--limit expects a positive whole number');
      }
      const since = parseSince(options.since);
      const list = await withStore(options, (store) => store.listSessions({ limit, since, subject: options.subject }));
      process.stdout.write(options.json ? `${JSON.stringify(list, null, 2)}\n` : formatSessionList(list));
    });

  withConfigOption(
    sessions
      .command('show')
      .description('show one session and its timeline')
      .argument('<id>', `session id, or a unique prefix of at least ${MIN_SESSION_PREFIX} characters`),
  )
    .option('--json', 'print JSON')
    .action(async (id: string, options: ShowOptions) => {
      const found = await withStore(options, (store) => store.getSession(id));
      if (!found) throw notFound(id);
      process.stdout.write(
        options.json
          ? `${JSON.stringify({ ...found, events: unfoldResults(found.events) }, null, 2)}\n`
          : formatSessionDetail(found.summary, found.events),
      );
    });

  withConfigOption(
    sessions
      .command('replay')
      .description('print a session as it happened: statements with result tables, requests with responses')
      .argument('<id>', `session id, or a unique prefix of at least ${MIN_SESSION_PREFIX} characters`),
  )
    .option('--real-time', `pause between events as long as the session did (at most ${MAX_PAUSE_MS / 1000}s each)`)
    .option('--json', 'print the timeline as JSON')
    .action(async (id: string, options: ReplayOptions) => {
      const found = await withStore(options, (store) => store.getSession(id));
      if (!found) throw notFound(id);
      const timeline = buildTimeline(found.summary, found.events);
      if (options.json) {
        process.stdout.write(`${JSON.stringify(timeline, null, 2)}\n`);
        return;
      }
      let previous = 0;
      for (const chunk of renderReplay(timeline)) {
        if (options.realTime) await sleep(Math.min(MAX_PAUSE_MS, Math.max(0, chunk.offsetMs - previous)));
        previous = chunk.offsetMs;
        process.stdout.write(chunk.text);
      }
    });
}

/** Longest pause `--real-time` makes between two events: idle hours are not worth waiting for. */
const MAX_PAUSE_MS = 10_000;

interface ReplayOptions {
  readonly config: string;
  readonly realTime?: boolean;
  readonly json?: boolean;
}

function notFound(id: string): GatehouseError {
  return new GatehouseError(
    'request.not_found',
    `no session matches "${id}" (a prefix must have at least ${MIN_SESSION_PREFIX} characters and match one session)`,
  );
}

/** `--since 7d` as an epoch-ms time, or undefined when not given. */
export function parseSince(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = parseDuration(value);
  if (ms === undefined) throw new GatehouseError('request.invalid', '--since expects a duration such as 7d or 12h');
  return Date.now() - ms;
}

export async function withStore<T>(options: { config: string }, use: (store: Store) => Promise<T>): Promise<T> {
  const { config, baseDir } = loadConfigOption(options);
  const store = await openStore(config.store, baseDir, { migrations: FEATURE_MIGRATIONS });
  try {
    return await use(store);
  } finally {
    await store.close();
  }
}
