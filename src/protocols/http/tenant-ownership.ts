import type { HttpResourceConfig } from '../../config/schema.js';
import { GatehouseError } from '../../core/errors.js';
import type { Identity } from '../../core/identity.js';
import type { InspectedCall, ResourceContext } from './call-inspection.js';
import type { HttpRequestShape } from './classify.js';
import type { HttpConnector } from './connector.js';
import { tenantOf } from './providers/registry.js';
import { notTenantScoped } from './providers/tenant-errors.js';

/** The probe's answer is a list of ids and a tenant field each: bounded like any inspected body. */
const MAX_ANSWER_BYTES = 8 * 1024 * 1024;

/**
 * The last stage before a tenant-filtered write by id goes upstream: the profile's ownership probe (a read by the
 * same ids, with the resource's credential) must show that none of them exists under another tenant, else the
 * write is refused with `tenant-filter` (it would overwrite that tenant's record and move it into the caller's).
 * Fails closed: an upstream that cannot answer the probe gets no write. A record another tenant creates between
 * the probe and the write can still be overwritten: stores without conditional writes leave that window open.
 */
export async function confirmTenantOwnership(
  context: ResourceContext,
  inspected: InspectedCall,
  identity: Identity,
  shape: HttpRequestShape,
  signal?: AbortSignal,
): Promise<void> {
  const { resource, classifier, connector } = context;
  const probeFor = classifier.profile.ownershipProbe;
  const body = inspected.classification.body;
  if (!resource.tenantFilter || !probeFor || body === undefined) return;
  const tenant = tenantOf(resource.tenantFilter, identity);
  const probe = probeFor(inspected.call, body, tenant, classifier.request(shape));
  if (!probe) return;
  const answer = await ask(connector, resource, probe, signal);
  if (answer === undefined) return;
  const foreign = probe.foreign(answer);
  if (foreign.length > 0)
    throw notTenantScoped(`record ids already held by another tenant: ${foreign.slice(0, 5).join(', ')}`);
}

/** One JSON request to the upstream with the resource's credential (bounded answer; 404 is undefined). */
export async function ask(
  connector: HttpConnector,
  resource: HttpResourceConfig,
  probe: { method: string; path: string; body?: unknown },
  signal?: AbortSignal,
): Promise<unknown> {
  const headers: Record<string, string> = { accept: 'application/json' };
  const payload = probe.body === undefined ? null : Buffer.from(JSON.stringify(probe.body));
  if (payload) headers['content-type'] = 'application/json';
  if (resource.credential) headers[resource.credential.header.toLowerCase()] = resource.credential.value;
  const response = await connector.request({
    method: probe.method,
    path: probe.path,
    headers,
    body: payload,
    signal: signal ?? new AbortController().signal,
  });
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response.body as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_ANSWER_BYTES) {
      response.body.destroy();
      throw unanswered('the answer was too large');
    }
    chunks.push(chunk);
  }
  // The collection does not exist: nothing in it belongs to anyone, and the write itself will fail upstream.
  if (response.statusCode === 404) return undefined;
  if (response.statusCode < 200 || response.statusCode >= 300) throw unanswered(`status ${response.statusCode}`);
  try {
    return JSON.parse(Buffer.concat(chunks, size).toString('utf8'));
  } catch {
    throw unanswered('the answer was not JSON');
  }
}

function unanswered(reason: string): GatehouseError {
  return new GatehouseError('upstream.unavailable', 'the store could not confirm who owns the records written', {
    details: { reason },
  });
}
