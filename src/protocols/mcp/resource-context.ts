import type { McpResourceConfig } from '../../config/schema.js';
import type { CallBudgets } from './call-budgets.js';
import type { McpClassifier } from './classify.js';
import type { McpConnector } from './connector.js';
import type { ResourceSubscriptions } from './subscriptions.js';
import type { ToolPins } from './tool-pins.js';

/** Everything the listener keeps per MCP resource. */
export interface McpResourceContext {
  readonly resource: McpResourceConfig;
  readonly classifier: McpClassifier;
  readonly connector: McpConnector;
  readonly budgets: CallBudgets;
  readonly pins: ToolPins;
  readonly subscriptions: ResourceSubscriptions;
}
