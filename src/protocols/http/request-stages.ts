import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatehouseError } from '../../core/errors.js';
import type { Identity } from '../../core/identity.js';
import { type MaskingResolution, maskingNote, resolveMasking } from '../../masking/profile.js';
import type { OperationHandle, OperationResult, Session } from '../../session/session.js';
import type { GatewayServices } from '../protocol-services.js';
import { withBlastRadius } from './blast-radius.js';
import {
  type InspectedCall,
  inspectCall,
  type OutgoingBody,
  outgoingBody,
  type ResourceContext,
} from './call-inspection.js';
import { CallMeter } from './call-meter.js';
import type { HttpRequestShape } from './classify.js';
import { errorStatus, sendQuotaRefusal } from './error-response.js';
import { forward } from './forwarder.js';
import { presentedToken } from './headers.js';
import { awaitHttpApproval } from './request-approval.js';
import { refuseBodyOnRead } from './request-body.js';
import { type RequestPath, upstreamPath } from './request-path.js';
import type { HttpRoute, RouteTable } from './route-table.js';
import type { HttpSessionRegistry } from './session-registry.js';
import { confirmTenantOwnership } from './tenant-ownership.js';

/** What every stage may use: the listener's services, routes, per-resource state and sessions. */
export interface HttpPipeline {
  readonly services: GatewayServices;
  readonly routes: RouteTable;
  readonly contexts: ReadonlyMap<string, ResourceContext>;
  readonly sessions: HttpSessionRegistry;
}

/**
 * One request on its way through the stages: what the single error path needs to know about how far it got (the
 * resource, the operation record still waiting for its result, the budget reservation to settle).
 */
export class RequestInFlight {
  /** The metrics label until a route names the resource. */
  resourceName = 'none';
  /** The operation's record, once `decide` opened it. */
  handle: OperationHandle | undefined;
  /** The record still waits for its result: the error path records one. */
  awaitingResult = false;
  meter: CallMeter | undefined;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
  ) {}

  /** Records why the operation did not run (its outcome is counted with it), before the caller is answered. */
  async refuse(handle: OperationHandle, result: OperationResult): Promise<void> {
    this.awaitingResult = false;
    await handle.finish(result);
  }
}

export interface RoutedRequest {
  readonly path: RequestPath;
  readonly route: HttpRoute;
  readonly context: ResourceContext;
  readonly shape: HttpRequestShape;
}

export interface InspectedRequest {
  readonly masking: MaskingResolution;
  readonly call: InspectedCall;
}

export interface DecidedRequest {
  readonly session: Session;
  readonly handle: OperationHandle;
}

/** Stage 1: the caller's bearer token, verified. */
export async function authenticate(pipeline: HttpPipeline, req: IncomingMessage): Promise<Identity> {
  const token = presentedToken(req.headers);
  if (!token) throw new GatehouseError(token === undefined ? 'auth.missing_token' : 'auth.invalid_token');
  return pipeline.services.verifier.verify(token);
}

/** Stage 2: the resource the path names, and the request as its provider profile sees it. */
export function route(pipeline: HttpPipeline, flight: RequestInFlight, path: RequestPath): RoutedRequest {
  const { req } = flight;
  const matched = pipeline.routes.match(req.headers.host, path.segments);
  if (!matched) throw new GatehouseError('request.not_found', 'no resource is configured for this path');
  flight.resourceName = matched.resource.name;
  const context = pipeline.contexts.get(matched.resource.name) as ResourceContext;
  const method = (req.method ?? 'GET').toUpperCase();
  refuseBodyOnRead(method, req.headers);
  const shape = {
    method,
    segments: path.segments.slice(matched.prefixSegments.length),
    query: new URLSearchParams(path.query),
  };
  return { path, route: matched, context, shape };
}

/**
 * Stage 3: classify the call with the resource's profile (collection ids resolved, filter deletes on resources with
 * maxPoints counted first: blast-radius.ts). Masking is resolved per caller from the resource's profile and the
 * token's groups; prompts are masked before they are recorded or sent.
 */
export async function inspect(
  pipeline: HttpPipeline,
  flight: RequestInFlight,
  routed: RoutedRequest,
  identity: Identity,
): Promise<InspectedRequest> {
  const masking = resolveMasking(routed.route.resource.masking, identity.groups);
  const limit = pipeline.services.config.http.maxInspectedBodyBytes;
  const inspected = await inspectCall(flight.req, routed.context, routed.shape, masking, limit);
  return { masking, call: await withBlastRadius(routed.context, inspected, identity, routed.shape) };
}

/**
 * Stage 4: policy decides and the operation is recorded (the record notes the masking profile or the exemption).
 * A denial is recorded as refused and thrown; `review` goes on to `approve`.
 */
export async function decide(
  pipeline: HttpPipeline,
  flight: RequestInFlight,
  identity: Identity,
  inspected: InspectedRequest,
): Promise<DecidedRequest> {
  const session = pipeline.sessions.sessionFor(identity, flight.req.socket.remoteAddress);
  const { call, masking } = inspected;
  const handle = await session.begin(call.operation, {
    ...call.note,
    ...maskingNote(masking),
    ...(call.maskedRequest.empty ? {} : { maskedRequest: call.maskedRequest.toRecord() }),
  });
  flight.handle = handle;
  flight.awaitingResult = true;
  const { decision } = handle;
  if (decision.verdict === 'deny') {
    // A body the gateway cannot read is the caller's mistake: say so with 400, though policy denied it too.
    const code = decision.reason === 'unclassifiable' ? 'request.invalid' : 'policy.denied';
    await flight.refuse(handle, { outcome: 'refused', status: code === 'request.invalid' ? 400 : 403 });
    throw new GatehouseError(code, decision.message, {
      details: { rule: decision.rule.id, reason: decision.reason },
    });
  }
  return { session, handle };
}

/**
 * Stage 5: a `review` waits for an approver (request-approval.ts). Returns the call to run (with the body that was
 * approved), or undefined when the caller was already answered (202 pending); a refusal is thrown.
 */
export async function approve(
  pipeline: HttpPipeline,
  flight: RequestInFlight,
  routed: RoutedRequest,
  identity: Identity,
  inspected: InspectedRequest,
  decided: DecidedRequest,
): Promise<InspectedCall | undefined> {
  const { handle, session } = decided;
  if (handle.decision.verdict !== 'review') return inspected.call;
  const { approvals, config } = pipeline.services;
  const approval = await awaitHttpApproval(flight.req, flight.res, {
    approvals,
    publicUrl: config.approvals.publicUrl,
    identity,
    sessionId: session.id,
    handle,
    inspected: inspected.call,
    path: routed.path,
    masking: inspected.masking,
    bodyLimit: config.http.maxInspectedBodyBytes,
  });
  if (approval.run) return approval.inspected;
  // Not run: awaitHttpApproval recorded why.
  flight.awaitingResult = false;
  if (approval.refusal) throw approval.refusal;
  return undefined;
}

/**
 * Stage 6: after the decision, before the upstream: confine the call to the caller's tenant (a write by id must not
 * land on another tenant's record: tenant-ownership.ts) and ask a stream for usage. A refusal is recorded and thrown.
 */
export async function confine(
  pipeline: HttpPipeline,
  flight: RequestInFlight,
  routed: RoutedRequest,
  identity: Identity,
  call: InspectedCall,
  handle: OperationHandle,
): Promise<OutgoingBody> {
  try {
    const outgoing = outgoingBody(routed.context, call, identity, pipeline.services.config.http.maxInspectedBodyBytes);
    await confirmTenantOwnership(routed.context, call, identity, routed.shape);
    return outgoing;
  } catch (error) {
    if (error instanceof GatehouseError) {
      await flight.refuse(handle, { outcome: 'refused', status: errorStatus(error), error: error.code });
    }
    throw error;
  }
}

/**
 * Stage 7: reserve budget for the call (quotas). Returns undefined when a budget has no room: the refusal is recorded
 * and the caller answered with 429.
 */
export async function reserve(
  pipeline: HttpPipeline,
  flight: RequestInFlight,
  routed: RoutedRequest,
  identity: Identity,
  call: InspectedCall,
  handle: OperationHandle,
): Promise<CallMeter | undefined> {
  const { services } = pipeline;
  const model = call.call.model;
  const price = model === undefined ? undefined : routed.context.prices?.priceOf(model);
  const resource = routed.route.resource.name;
  const start = await CallMeter.open(services.quotas, identity, resource, call.call, services.logger, price);
  if (start.ok) {
    flight.meter = start.meter;
    return start.meter;
  }
  const { refusal } = start;
  await flight.refuse(handle, { outcome: 'refused', status: 429, error: 'quota.exceeded', quota: { ...refusal } });
  services.logger.info({ resource, budget: refusal.budget }, 'budget exhausted');
  sendQuotaRefusal(flight.res, refusal, services.clock.now());
  return undefined;
}

/**
 * Stage 8: stream the request to the upstream with its credential injected and the answer back (usage tap,
 * masking), settling the budget and recording the result before the caller sees the end (forwarder.ts).
 */
export async function forwardCall(
  pipeline: HttpPipeline,
  flight: RequestInFlight,
  routed: RoutedRequest,
  inspected: InspectedRequest,
  call: InspectedCall,
  outgoing: OutgoingBody,
  handle: OperationHandle,
  meter: CallMeter,
): Promise<void> {
  await forward(pipeline.services, flight.req, flight.res, {
    resource: routed.route.resource,
    connector: routed.context.connector,
    // Rebuilt from the segments policy judged, never cut from the raw path (`/ap%69/v1/x` is `/api/v1/x`).
    path: upstreamPath(routed.path, routed.route.prefixSegments.length),
    body: outgoing.body,
    handle,
    masking: inspected.masking,
    metered: call.call.metered,
    stripUsage: outgoing.stripUsage,
    meter,
  });
  flight.awaitingResult = false;
}
