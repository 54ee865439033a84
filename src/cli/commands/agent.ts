import type { Command } from 'commander';
import { waitForSignal } from './serve.js';

/** `gatehouse agent -c agent.yaml`: runs the agent next to the backends (see src/agent/agent.ts). */
export function registerAgentCommand(program: Command): void {
  program
    .command('agent')
    .description('run an agent next to backends: it dials out to the gateway and opens backend connections')
    .requiredOption('-c, --config <file>', 'agent configuration file (agent.yaml)')
    .action(async (options: { config: string }) => {
      const { loadAgentConfig } = await import('../../agent/agent-config.js');
      const { Agent } = await import('../../agent/agent.js');
      const { createLogger } = await import('../../gateway/logger.js');
      const { config, baseDir } = loadAgentConfig(options.config);
      const agent = new Agent(config, baseDir, createLogger('info').child({ agent: config.name }));
      await agent.start();
      await waitForSignal();
      await agent.stop();
    });
}
