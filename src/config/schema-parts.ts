import { z } from 'zod';
import { parseDuration } from '../core/duration.js';

/** A duration written as `30s`, `5m`, `1h` or a number of seconds; parsed to milliseconds. */
export const duration = z
  .union([z.string(), z.number()])
  .transform((value, ctx) => {
    const ms = parseDuration(value);
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: 'expected a duration such as 30s, 5m, 1h or a number of seconds' });
      return z.NEVER;
    }
    return ms;
  })
  // Read by the configuration reference generator: durations are shown as durations, defaults as `30s`.
  .meta({ format: 'duration' });

/** `host:port` or a bare port; host defaults to loopback so nothing listens publicly by accident. */
export const listenAddress = z
  .union([z.string(), z.number().int()])
  .transform((value, ctx) => {
    const text = String(value);
    const match = /^(?:(\[[^\]]+\]|[^:]+):)?(\d{1,5})$/.exec(text);
    const port = match ? Number(match[2]) : Number.NaN;
    if (!match || port > 65535) {
      ctx.addIssue({ code: 'custom', message: 'expected host:port or a port number, e.g. 127.0.0.1:8080' });
      return z.NEVER;
    }
    return { host: (match[1] ?? '127.0.0.1').replace(/^\[|\]$/g, ''), port };
  })
  .meta({ format: 'listen-address' });

export const httpUrl = z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' });

/**
 * Per-stream HTTP/2 window of the agent tunnel. Node's default (64 KiB) caps a session at 64 KiB per round trip:
 * about 1.3 MB/s at 50 ms. 1 MiB is within what the kernel buffers for one TCP socket to a direct backend.
 */
export const tunnelStreamWindow = z
  .number()
  .int()
  .min(65_535)
  .max(16 * 1024 * 1024)
  .default(1024 * 1024);

/** The tunnel connection's window: enough for this many streams' windows in flight at once. */
export const TUNNEL_CONNECTION_WINDOW_STREAMS = 16;

/** How the gateway reaches a resource's backend, the same for every protocol. */
export const routeFields = {
  via: z
    .enum(['direct', 'agent'])
    .default('direct')
    .describe('`direct`: the gateway connects itself. `agent`: through a connected agent, which holds the credential.'),
  agentGroup: z
    .string()
    .min(1)
    .optional()
    .describe('With `via: agent`: only agents announcing this group serve the resource.'),
};
