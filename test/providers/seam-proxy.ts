import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { configSchema, type GatehouseConfig, type HttpResourceConfig } from '../../src/config/schema.js';
import { GatehouseError } from '../../src/core/errors.js';
import type { Identity } from '../../src/core/identity.js';
import { PolicyEngine } from '../../src/policy/engine.js';
import { HttpClassifier } from '../../src/protocols/http/classify.js';
import { sendError } from '../../src/protocols/http/error-response.js';
import {
  ChromaCollectionDirectory,
  resolveCollection,
} from '../../src/protocols/http/providers/collection-directory.js';
import { serializeBody } from '../../src/protocols/http/providers/json-body.js';
import type { ProviderCall } from '../../src/protocols/http/providers/profile.js';
import { applyTenantFilter, classifyCall, profileFor, tenantOf } from '../../src/protocols/http/providers/registry.js';
import { readBodyLimited } from '../../src/protocols/http/request-body.js';
import { parseRequestPath, upstreamPath } from '../../src/protocols/http/request-path.js';

/**
 * The listener's seams in the order the report asks the lead to wire them, around one resource: classify with the
 * profile (body buffered only when the profile needs it), resolve collection ids, decide, rewrite for the tenant,
 * forward the re-serialised body. Identity comes from a test header: token verification is not what is tested here.
 */
export class SeamProxy {
  readonly decisions: { call: ProviderCall; verdict: string }[] = [];
  private readonly server: Server = createServer((req, res) => void this.handle(req, res));
  private readonly resource: HttpResourceConfig;
  private readonly config: GatehouseConfig;
  private readonly policy: PolicyEngine;
  private readonly directory: ChromaCollectionDirectory;

  constructor(
    resource: unknown,
    private readonly maxBody = 64 * 1024,
  ) {
    this.config = configSchema.parse({
      identity: { devIssuer: { enabled: true } },
      resources: [resource],
    });
    this.resource = this.config.resources[0] as HttpResourceConfig;
    this.policy = new PolicyEngine(this.config.resources);
    this.directory = new ChromaCollectionDirectory({ baseUrl: this.resource.target, minRefreshMs: 0 });
  }

  async start(): Promise<string> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const identity = JSON.parse(String(req.headers['x-test-identity'])) as Identity;
      const url = req.url ?? '/';
      const path = parseRequestPath(url);
      if (!path) throw new GatehouseError('request.invalid', 'the request path is not acceptable');
      const profile = profileFor(this.resource.profile);
      const request = {
        method: (req.method ?? 'GET').toUpperCase(),
        segments: path.segments,
        query: new URLSearchParams(path.query),
        targetHost: new URL(this.resource.target).hostname,
      };
      const raw = profile.needsBody(request) ? await readBodyLimited(req, this.maxBody) : undefined;
      const classified = classifyCall(profile, request, raw);
      const call = await resolveCollection(classified.call, request, this.directory);
      const classifier = new HttpClassifier(this.resource.name, []);
      const operation = classifier.toOperation(
        request,
        { kind: call.kind, inference: call.metered },
        {
          ...(call.model === undefined ? {} : { model: call.model }),
          ...(call.collection === undefined ? {} : { collection: call.collection }),
          ...(call.unclassifiable === undefined ? {} : { unclassifiable: call.unclassifiable }),
        },
      );
      const decision = this.policy.decide(operation, { identity });
      this.decisions.push({ call, verdict: decision.verdict });
      if (decision.verdict !== 'allow') {
        throw new GatehouseError(
          decision.reason === 'unclassifiable' ? 'request.invalid' : 'policy.denied',
          decision.message,
        );
      }
      let body = classified.body;
      if (this.resource.tenantFilter)
        body = applyTenantFilter(profile, call, body, tenantOf(this.resource.tenantFilter, identity));
      const forwarded = body === undefined ? raw : serializeBody(body, this.maxBody);
      const upstream = await fetch(new URL(upstreamPath(path, 0).replace(/^\//, ''), `${this.resource.target}/`), {
        method: request.method,
        headers: { 'content-type': 'application/json' },
        ...(forwarded === undefined || request.method === 'GET' ? {} : { body: forwarded }),
      });
      const text = await upstream.text();
      res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' });
      res.end(text);
    } catch (error) {
      sendError(
        res,
        error instanceof GatehouseError ? error : new GatehouseError('internal', undefined, { cause: error }),
      );
    }
  }
}

export function identityHeader(subject: string, groups: string[], claims: Record<string, unknown>): string {
  const identity: Identity = {
    issuer: 'test',
    subject,
    groups,
    tokenId: subject,
    expiresAt: Date.now() + 60_000,
    claims,
  };
  return JSON.stringify(identity);
}
