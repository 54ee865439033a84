import type { StoreMigration } from '../../store/migrations.js';

/** The MCP tool pins table (see tool-pins.ts), registered with the store at composition like every feature's. */
export const MCP_MIGRATIONS: readonly StoreMigration[] = [
  {
    name: '0300_mcp_tool_pins',
    async up(db) {
      await db.schema
        .createTable('mcp_tool_pins')
        .ifNotExists()
        .addColumn('resource', 'text', (c) => c.notNull())
        .addColumn('tool', 'text', (c) => c.notNull())
        .addColumn('fingerprint', 'text', (c) => c.notNull())
        .addColumn('pending_fingerprint', 'text')
        .addColumn('pending_definition', 'text')
        .addColumn('first_seen', 'bigint', (c) => c.notNull())
        .addColumn('changed_at', 'bigint')
        .addColumn('accepted_by', 'text')
        .addColumn('accepted_at', 'bigint')
        .addPrimaryKeyConstraint('mcp_tool_pins_pk', ['resource', 'tool'])
        .execute();
    },
  },
];
