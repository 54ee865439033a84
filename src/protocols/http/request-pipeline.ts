import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatehouseError } from '../../core/errors.js';
import { countUnrecorded } from '../../session/outcome.js';
import { sendError } from './error-response.js';
import { parseRequestPath } from './request-path.js';
import {
  approve,
  authenticate,
  confine,
  decide,
  forwardCall,
  type HttpPipeline,
  inspect,
  RequestInFlight,
  reserve,
  route,
} from './request-stages.js';

/**
 * The HTTP data path for one request, as named stages (request-stages.ts): authenticate, route, inspect, decide,
 * approve, confine, reserve, forward. A stage that refuses records why and throws (or answers and stops the run);
 * everything thrown ends in `fail`, the one error path.
 */
export async function handleRequest(pipeline: HttpPipeline, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const flight = new RequestInFlight(req, res);
  try {
    const path = parseRequestPath(req.url ?? '');
    if (!path) throw new GatehouseError('request.invalid', 'the request path is not acceptable');
    const identity = await authenticate(pipeline, req);
    const routed = route(pipeline, flight, path);
    const inspected = await inspect(pipeline, flight, routed, identity);
    const decided = await decide(pipeline, flight, identity, inspected);
    const call = await approve(pipeline, flight, routed, identity, inspected, decided);
    if (call === undefined) return;
    const outgoing = await confine(pipeline, flight, routed, identity, call, decided.handle);
    const meter = await reserve(pipeline, flight, routed, identity, call, decided.handle);
    if (meter === undefined) return;
    await forwardCall(pipeline, flight, routed, inspected, call, outgoing, decided.handle, meter);
  } catch (error) {
    await fail(pipeline, flight, error);
  } finally {
    // Every reservation is settled once, whatever happened above (a no-op when already settled).
    await flight.meter?.settle(undefined, undefined).catch(() => undefined);
  }
}

/**
 * The one error path: counts a request that never opened an operation (an open one is counted by its result
 * record), records the result the operation still waits for, settles the budget, and answers in HTTP's format.
 */
async function fail(pipeline: HttpPipeline, flight: RequestInFlight, error: unknown): Promise<void> {
  const { metrics, logger } = pipeline.services;
  const { req, res, resourceName, handle } = flight;
  const failure = error instanceof GatehouseError ? error : new GatehouseError('internal', undefined, { cause: error });
  if (failure.code.startsWith('auth.')) {
    countUnrecorded(metrics, 'http', resourceName, 'unauthenticated');
    logger.warn({ reason: failure.details.reason ?? failure.code, client: req.socket.remoteAddress }, 'token rejected');
  } else {
    if (handle === undefined) countUnrecorded(metrics, 'http', resourceName, 'error');
    if (failure.code === 'internal') logger.error({ err: error }, 'request failed');
    else if (!failure.code.startsWith('policy.'))
      logger.info({ code: failure.code, resource: resourceName }, 'request failed');
  }
  // The upstream never answered (or the answer could not be relayed): release or charge the reservation.
  const settled = flight.meter ? await flight.meter.settle(undefined, undefined, failure) : {};
  if (handle !== undefined && flight.awaitingResult && !res.headersSent) {
    flight.awaitingResult = false;
    // The agent a failed call went to (via: agent), set by the tunnel connector.
    const servedBy = failure.details.servedBy;
    await handle
      .finish({
        outcome: 'error',
        error: failure.code,
        ...settled,
        ...(typeof servedBy === 'string' ? { servedBy } : {}),
      })
      .catch(() => undefined);
  }
  sendError(res, failure);
}
