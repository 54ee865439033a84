import { z } from 'zod';
import { duration, listenAddress, tunnelStreamWindow } from './schema-parts.js';

/** Which agent identities (verified like callers' tokens) may serve which resources. */
const agentRule = z.strictObject({
  subjects: z
    .array(z.string().min(1))
    .default([])
    .describe('Agent token subjects (`sub`) this rule covers; `*` is a wildcard.'),
  groups: z.array(z.string().min(1)).default([]).describe('Agent token groups this rule covers (any one matches).'),
  resources: z
    .array(z.string().min(1))
    .min(1)
    .describe('Resources (with `via: agent`) these agents may serve; `*` is a wildcard.'),
  agentGroups: z
    .array(z.string().min(1))
    .default([])
    .describe('Agent groups these agents may announce; empty means any.'),
});

export const agentsSchema = z
  .strictObject({
    listen: listenAddress.describe('Address agents dial (TLS, reverse HTTP/2 tunnel).'),
    tls: z
      .strictObject({
        cert: z.string().min(1).describe('PEM certificate (chain) file agents verify.'),
        key: z.string().min(1).describe('PEM private key file of that certificate.'),
      })
      .describe('TLS of the agent listener. Relative paths resolve against the config file.'),
    heartbeat: duration
      .default(2_000)
      .describe('Interval of HTTP/2 PINGs to each agent; one unanswered for twice this long drops the agent.'),
    identifyTimeout: duration.default(5_000).describe('Longest an agent may take to present its token.'),
    streamWindow: tunnelStreamWindow.describe(
      'HTTP/2 flow-control window of each tunnel stream, bytes, for data agents send (results, responses): one ' +
        'session moves at most this much per round trip to the agent, and a caller that stops reading leaves at ' +
        'most this much buffered here. The connection window is 16 times this.',
    ),
    policy: z
      .array(agentRule)
      .min(1)
      .describe('Which agent identities may serve which resources; an agent offering anything else is refused.'),
  })
  .optional()
  .describe('Agents: processes next to backends that dial out to the gateway and open backend connections.');

export type AgentsConfig = NonNullable<z.infer<typeof agentsSchema>>;
export type AgentRuleConfig = AgentsConfig['policy'][number];
