// The `protocol: postgres` resource: a PostgreSQL backend behind the gateway.
import { z } from 'zod';
import { policyAndMaskingFields } from './policy-rule-schema.js';
import { READ_FUNCTION_PATTERN } from './protocol-options.js';
import { routeFields } from './schema-parts.js';

export const postgresResourceSchema = z.strictObject({
  name: z
    .string()
    .regex(/^[a-z][a-z0-9_-]*$/, 'expected lower-case letters, digits, - or _')
    .describe(
      'Resource name (lower-case letters, digits, - or _); clients name it as the database in their connection.',
    ),
  protocol: z.literal('postgres').describe('`postgres` for a PostgreSQL backend.'),
  target: z
    .strictObject({
      host: z.string().min(1).describe('Backend host.'),
      port: z.number().int().min(1).max(65535).default(5432).describe('Backend port.'),
      database: z.string().min(1).describe('Backend database name.'),
      user: z.string().min(1).describe('Backend user the gateway logs in as.'),
      password: z.string().optional().describe('Backend password (use a secret reference).'),
      tls: z.boolean().default(false).describe('Connect to the backend over TLS.'),
      readOnlyLogin: z
        .strictObject({
          user: z.string().min(1).describe('Backend role granted SELECT only.'),
          password: z.string().optional().describe('Its password (use a secret reference).'),
        })
        .optional()
        .describe(
          'A second backend login, for sessions whose caller may only read on this resource (policy denies them every write, ddl and admin operation): a role granted SELECT only, so a statement the gateway misjudged still cannot write. Without it, those sessions use `user` with default_transaction_read_only on.',
        ),
    })
    .describe(
      'The backend the gateway connects to with its own credentials (with `via: agent`, unused: the agent holds them).',
    ),
  ...routeFields,
  readFunctions: z
    .array(
      z
        .string()
        .regex(
          READ_FUNCTION_PATTERN,
          'expected a function name such as analytics.score or "tenant_*" (schema optional)',
        ),
    )
    .default([])
    .describe(
      'Functions outside pg_catalog that count as plain reads (`analytics.score`, `tenant_*`), matched as a call writes them, schema-qualified or not, `*` a wildcard. Any other non-built-in call makes a statement a write.',
    ),
  ...policyAndMaskingFields,
});
