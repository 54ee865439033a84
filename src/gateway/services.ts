import type { GatewayServices } from '../protocols/protocol-services.js';
import type { AgentRegistry } from '../tunnel/agent-registry.js';

/** The services as the gateway composes them: what protocols are handed, plus what only the composition uses. */
export interface ComposedServices extends GatewayServices {
  /** Connected agents, when `agents:` is configured: the registry picks agent connectors for `via: agent` resources. */
  readonly agents?: AgentRegistry;
}
