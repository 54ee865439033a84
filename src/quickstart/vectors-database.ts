import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';

/** One seeded document: a tiny 3-dimensional embedding so nearest-neighbour results are easy to follow by eye. */
export interface SeedDocument {
  readonly id: number;
  readonly tenantId: string;
  readonly title: string;
  readonly body: string;
  readonly embedding: readonly [number, number, number];
}

/**
 * The quickstart's `documents`: product notes and support tickets, some of them carrying fake personal data (e-mail
 * addresses, phone numbers, card numbers that pass the Luhn check) so masking has something to find.
 */
export const SEED_DOCUMENTS: readonly SeedDocument[] = [
  {
    id: 1,
    tenantId: 'acme',
    title: 'Refund policy',
    body: 'Refunds are issued within 14 days of purchase to the original payment method.',
    embedding: [0.9, 0.1, 0.0],
  },
  {
    id: 2,
    tenantId: 'acme',
    title: 'Shipping times',
    body: 'Standard shipping takes 3 to 5 business days; express shipping takes 1 day.',
    embedding: [0.1, 0.9, 0.0],
  },
  {
    id: 3,
    tenantId: 'acme',
    title: 'Ticket 4711: refund request',
    body: 'Customer Jane Roe (jane.roe@example.com, +1 415 555 0132) asks for a refund to card 4111 1111 1111 1111.',
    embedding: [0.8, 0.2, 0.1],
  },
  {
    id: 4,
    tenantId: 'globex',
    title: 'Password reset',
    body: 'Users reset their password from the sign-in page; links expire after 30 minutes.',
    embedding: [0.0, 0.2, 0.9],
  },
  {
    id: 5,
    tenantId: 'globex',
    title: 'Ticket 0815: delivery address change',
    body: 'John Doe (john.doe@example.org, +44 20 7946 0958) moved; charge card 5555 5555 5555 4444 for express.',
    embedding: [0.2, 0.8, 0.1],
  },
  {
    id: 6,
    tenantId: 'globex',
    title: 'Data retention',
    body: 'Support tickets are kept for 90 days, then deleted together with their attachments.',
    embedding: [0.1, 0.1, 0.8],
  },
];

/** pgvector's text form of an embedding: `[0.9,0.1,0]`. */
export function vectorLiteral(embedding: readonly number[]): string {
  return `[${embedding.join(',')}]`;
}

/**
 * Opens PGlite with pgvector (in memory when `dataDir` is absent) and seeds `documents` once: an existing table is
 * left as it is, so what a quickstart user wrote survives a restart of a persistent data dir.
 */
export async function openVectorsDatabase(dataDir?: string): Promise<PGlite> {
  const db = await PGlite.create({ ...(dataDir === undefined ? {} : { dataDir }), extensions: { vector } });
  try {
    await db.exec('CREATE EXTENSION IF NOT EXISTS vector');
    const existing = await db.query<{ found: string | null }>("SELECT to_regclass('public.documents') AS found");
    if (existing.rows[0]?.found == null) await seed(db);
  } catch (error) {
    await db.close();
    throw error;
  }
  return db;
}

async function seed(db: PGlite): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.exec(`CREATE TABLE documents (
      id integer PRIMARY KEY,
      tenant_id text NOT NULL,
      title text NOT NULL,
      body text NOT NULL,
      embedding vector(3) NOT NULL
    )`);
    for (const doc of SEED_DOCUMENTS) {
      await tx.query('INSERT INTO documents (id, tenant_id, title, body, embedding) VALUES ($1, $2, $3, $4, $5)', [
        doc.id,
        doc.tenantId,
        doc.title,
        doc.body,
        vectorLiteral(doc.embedding),
      ]);
    }
  });
}
