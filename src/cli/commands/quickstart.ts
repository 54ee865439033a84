import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { loadConfigFile } from '../../config/load.js';
import { systemClock } from '../../core/clock.js';
import { Gateway } from '../../gateway/gateway.js';
import { createLogger } from '../../gateway/logger.js';
import { DevIssuer } from '../../identity/dev-issuer.js';
import {
  ensureListenerCertificate,
  NEAREST_QUERY,
  NEAREST_TO,
  startVectorsBackend,
  type VectorsBackend,
  vectorsSelfCheck,
} from '../../quickstart/vectors-backend.js';
import { OpenAiStandIn } from '../../standins/openai-stand-in.js';
import { waitForSignal } from './serve.js';

const QUICKSTART_CONFIG = fileURLToPath(new URL('../../../examples/quickstart/gatehouse.yaml', import.meta.url));
/** The approver the printed token is for, and whom the self-check decides as: the group the DELETE rule names. */
const APPROVER = { subject: 'quickstart-approver', groups: ['data-owners'] } as const;
/** Where the `vectors` database persists between runs (relative to the config); `--once` keeps it in memory. */
const VECTORS_DATA_DIR = '.gatehouse/vectors-pgdata';

interface QuickstartOptions {
  config: string;
  once?: boolean;
}

/**
 * Runs the quickstart: a bundled OpenAI-compatible stand-in upstream (unless GATEHOUSE_LLM_URL names a real one), the
 * `vectors` PGlite database with pgvector, the gateway with the development issuer (its PostgreSQL listener with a
 * self-signed certificate generated on first run), tokens for `rag-readers` and `indexers`, and one allowed and one
 * refused request on each path (HTTP and SQL).
 */
export function registerQuickstartCommand(program: Command): void {
  program
    .command('quickstart')
    .description('run the gateway on the quickstart config with a bundled stand-in LLM upstream')
    .option('-c, --config <file>', 'configuration file', QUICKSTART_CONFIG)
    .option('--once', 'run the self-check and exit (free ports, no waiting)')
    .action(async (options: QuickstartOptions) => {
      let standIn: OpenAiStandIn | undefined;
      if (!process.env.GATEHOUSE_LLM_URL) {
        standIn = new OpenAiStandIn({
          apiKey: process.env.GATEHOUSE_LLM_API_KEY || 'quickstart-upstream-key',
          port: options.once ? 0 : 8081,
        });
        process.env.GATEHOUSE_LLM_URL = await standIn.start();
      }
      let vectors: VectorsBackend | undefined;
      let gateway: Gateway | undefined;
      try {
        const configured = loadConfigFile(options.config);
        await ensureListenerCertificate(configured);
        vectors = await startVectorsBackend(configured, {
          ...(options.once ? { freePort: true } : { dataDir: VECTORS_DATA_DIR }),
        });
        const loaded = vectors.loaded;
        const free = { host: '127.0.0.1', port: 0 };
        // Warnings only, so the walk-through below stays readable; GATEHOUSE_LOG_LEVEL=info shows every request.
        const logger = createLogger(process.env.GATEHOUSE_LOG_LEVEL ?? 'warn');
        gateway = await Gateway.start(loaded, {
          logger,
          ...(options.once ? { listen: { http: free, postgres: free, admin: free } } : {}),
        });
        const issuer = await DevIssuer.open(loaded.config.identity.devIssuer, loaded.baseDir, systemClock);
        const reader = await issuer.mint({ subject: 'quickstart-job', groups: ['rag-readers'], ttlMs: 15 * 60_000 });
        const indexer = await issuer.mint({
          subject: 'quickstart-indexer',
          groups: ['indexers'],
          ttlMs: 15 * 60_000,
        });
        const approver = await issuer.mint({
          subject: APPROVER.subject,
          groups: [...APPROVER.groups],
          ttlMs: 15 * 60_000,
        });
        const http = gateway.addresses.http as { host: string; port: number };
        const base = `http://${http.host}:${http.port}/llm/v1`;
        const call = async (model: string) => {
          const res = await fetch(`${base}/chat/completions`, {
            method: 'POST',
            headers: { authorization: `Bearer ${reader}`, 'content-type': 'application/json' },
            body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hello through Gatehouse' }] }),
          });
          return `${res.status} ${await res.text()}`;
        };
        const say = (line = '') => process.stderr.write(`${line}\n`);
        say();
        say(
          `Gatehouse quickstart is running (upstream: ${standIn ? 'bundled stand-in' : process.env.GATEHOUSE_LLM_URL}).`,
        );
        say(`  allowed model  -> ${await call('gpt-4o-mini')}`);
        say(`  other model    -> ${await call('gpt-4o')}`);
        const postgres = gateway.addresses.postgres;
        if (postgres) {
          // The indexer's DELETE without WHERE is held for approval: the self-check plays the approver and denies it,
          // so the walk-through shows the whole review flow without waiting for a person.
          const { approvals } = gateway.services;
          const denyHeld = async (notice: string) => {
            const id = /review ([A-Za-z0-9_-]+)/.exec(notice)?.[1];
            if (id === undefined) return;
            await approvals
              .decide(
                id,
                { issuer: 'gatehouse-dev', subject: APPROVER.subject, groups: [...APPROVER.groups] },
                'deny',
                {
                  reason: 'quickstart self-check: denied automatically',
                  via: 'api',
                },
              )
              // Said rather than swallowed: a decision that fails leaves the DELETE held until its review times out.
              .catch((error: unknown) => say(`  review decision failed: ${(error as Error).message}`));
          };
          const sql = await vectorsSelfCheck(postgres, { reader, indexer }, denyHeld);
          say(`  SQL nearest    -> ${sql.allowed}`);
          say(`  SQL masked     -> ${sql.ticket}`);
          if (sql.held) say(`  SQL DELETE     -> held: ${sql.held.split('\n')[0]}`);
          say(`  SQL DELETE     -> ${sql.refused}`);
        }
        say();
        say('Tokens for the groups rag-readers, indexers and data-owners (the approvers), 15 minutes:');
        say(`  export TOKEN=${reader}`);
        say(`  export INDEXER_TOKEN=${indexer}`);
        say(`  export APPROVER_TOKEN=${approver}`);
        say('Try it:');
        say(
          `  curl -s ${base}/chat/completions -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \\`,
        );
        say(`    -d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}'`);
        say(`  OpenAI SDK: new OpenAI({ baseURL: '${base}', apiKey: process.env.TOKEN })`);
        if (postgres) {
          say(
            `  psql "host=${postgres.host} port=${postgres.port} dbname=vectors sslmode=require user=me password=$TOKEN" \\`,
          );
          say(`    -c "${NEAREST_QUERY.replace('$1', `'${NEAREST_TO}'`)}"`);
          say('  (the vectors database is PGlite: it serves one session at a time; a second one waits for the first)');
          // In a transaction rolled back, so approving it leaves the seed data alone.
          say(
            `  Review: psql "host=${postgres.host} port=${postgres.port} dbname=vectors sslmode=require user=me password=$INDEXER_TOKEN" \\`,
          );
          say(
            `    -c BEGIN -c "DELETE FROM documents" -c ROLLBACK   # held until approved; in another shell, with the exports above:`,
          );
          if (gateway.addresses.admin) {
            const admin = `http://${gateway.addresses.admin.host}:${gateway.addresses.admin.port}`;
            say(`  GATEHOUSE_ADMIN_URL=${admin} GATEHOUSE_TOKEN=$APPROVER_TOKEN npx gatehouse reviews list`);
            say(`    ... reviews approve <id> (or deny <id> --reason ...), or the page ${admin}/ui/reviews`);
          }
        }
        say(`  More tokens: npx gatehouse token mint -c ${options.config} --sub my-job --groups rag-readers --ttl 5m`);
        say(`  Audit:       npx gatehouse sessions list -c ${options.config}`);
        if (gateway.addresses.admin)
          say(`  Metrics:     http://${gateway.addresses.admin.host}:${gateway.addresses.admin.port}/metrics`);
        if (!options.once) {
          say('Press Ctrl-C to stop.');
          await waitForSignal();
        }
      } finally {
        await gateway?.stop();
        await vectors?.stop();
        await standIn?.stop();
      }
    });
}
