import type { Command } from 'commander';

type Register = (program: Command) => void;

interface CommandEntry {
  /** The top-level help line; a test checks it matches the one the module registers. */
  readonly description: string;
  readonly load: () => Promise<Register>;
}

/**
 * Top-level command -> its help line and the module that registers it. Only the module of the command being run is
 * loaded; `gatehouse --help` loads none (it prints these lines), so it does not pay for the gateway, the SQL parser or
 * the masking engine.
 */
export const COMMANDS: Readonly<Record<string, CommandEntry>> = Object.assign(Object.create(null), {
  serve: {
    description: 'run the gateway',
    load: async () => (await import('./commands/serve.js')).registerServeCommand,
  },
  quickstart: {
    description: 'run the gateway on the quickstart config with a bundled stand-in LLM upstream',
    load: async () => (await import('./commands/quickstart.js')).registerQuickstartCommand,
  },
  config: {
    description: 'work with configuration files',
    load: async () => (await import('./commands/config.js')).registerConfigCommands,
  },
  token: {
    description: 'mint development tokens and inspect tokens',
    load: async () => (await import('./commands/token.js')).registerTokenCommands,
  },
  policy: {
    description: 'inspect policy decisions',
    load: async () => (await import('./commands/policy.js')).registerPolicyCommands,
  },
  sessions: {
    description: 'list and inspect recorded sessions',
    load: async () => (await import('./commands/sessions.js')).registerSessionsCommands,
  },
  mask: {
    description: 'mask personal data and secrets in standard input (default detectors, or a resource profile)',
    load: async () => (await import('./commands/mask.js')).registerMaskCommand,
  },
  quotas: {
    description: 'token and request budgets',
    load: async () => (await import('./commands/quotas.js')).registerQuotasCommands,
  },
  reviews: {
    description: 'list and decide reviews (just-in-time approval)',
    load: async () => (await import('./commands/reviews.js')).registerReviewsCommands,
  },
  access: {
    description: 'request time-boxed elevated access (access windows)',
    load: async () => (await import('./commands/access.js')).registerAccessCommands,
  },
  audit: {
    description: 'verify, export and inspect the audit log',
    load: async () => (await import('./commands/audit.js')).registerAuditCommands,
  },
  report: {
    description: 'summarise access from the audit log',
    load: async () => (await import('./commands/report.js')).registerReportCommand,
  },
  agent: {
    description: 'run an agent next to backends: it dials out to the gateway and opens backend connections',
    load: async () => (await import('./commands/agent.js')).registerAgentCommand,
  },
  mcp: {
    description: 'MCP tool definitions: list changed ones and accept them',
    load: async () => (await import('./commands/mcp.js')).registerMcpCommands,
  },
  agents: {
    description: 'agents connected to the gateway',
    load: async () => (await import('./commands/agents.js')).registerAgentsCommands,
  },
} satisfies Record<string, CommandEntry>);
