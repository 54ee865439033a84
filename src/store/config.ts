import { z } from 'zod';

/**
 * The `store:` section: owned here, beside the stores it opens, and composed into the config by config/schema.ts (as
 * quotas/ and masking/ own theirs), so the store never imports the config folder.
 */
export const storeSchema = z
  .union([
    z.strictObject({
      sqlite: z
        .strictObject({
          path: z.string().min(1).describe('SQLite database file (relative to the config file).'),
          /**
           * Record through an append-only spool next to the file (one write per batch), the log filled behind by a
           * thread of its own; off: every batch is a commit on the gateway's thread.
           */
          spool: z
            .boolean()
            .default(true)
            .describe(
              "Record through an append-only spool next to the file (one write per batch), the log filled behind by a thread of its own; off: every batch is a commit on the gateway's thread.",
            ),
        })
        .describe('The embedded SQLite store (one gateway process).'),
    }),
    z.strictObject({
      postgres: z
        .strictObject({
          url: z.string().min(1).describe('postgres:// URL of the shared store database (use a secret reference).'),
          instanceId: z
            .string()
            .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'expected letters, digits, ., _ or - (at most 63)')
            .optional()
            .describe(
              "This gateway instance's id: the name of the hash chain it appends to (one per instance, so replicas never wait for each other). Stable across restarts of the same instance. Default: GATEHOUSE_INSTANCE_ID, else an id made once from the host name and kept in `.gatehouse/instance-id`. Two running processes with one id are refused at start.",
            ),
          writerThread: z
            .boolean()
            .default(false)
            .describe(
              "Chain, encode and send each batch of audit events from a thread of its own, keeping the gateway's thread free for traffic, at the cost of more CPU in all and a longer wait for each record (the hand-over between threads): for a gateway whose thread is the limit and that has cores to spare. Off (the default): on the gateway's thread.",
            ),
        })
        .describe('A shared PostgreSQL store, for several gateway replicas.'),
    }),
  ])
  .default({ sqlite: { path: '.gatehouse/gatehouse.db', spool: true } });

export type StoreConfig = z.output<typeof storeSchema>;
