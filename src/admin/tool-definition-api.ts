import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatehouseError } from '../core/errors.js';
import type { Identity } from '../core/identity.js';
import type { TokenVerifier } from '../identity/verifier.js';
import { bearerIdentity, optionalString, parseJsonObject, readText, sendAdminError, sendJson } from './admin-http.js';

/** A tool whose definition changed since it was pinned, as approvers see it. */
export interface PendingToolDefinition {
  readonly resource: string;
  readonly tool: string;
  readonly fingerprint: string;
  readonly pendingFingerprint: string;
  readonly pendingDefinition: string;
  readonly changedAt: number;
}

/**
 * What the MCP listener offers approvers (it implements this; admin/ names no protocol): changed tool definitions,
 * and accepting one as a member of the resource's `toolApprovers`.
 */
export interface ToolDefinitionApprovals {
  /** The resources whose tool changes this identity may accept. */
  approvableBy(identity: Identity): readonly string[];
  pending(resource: string): Promise<readonly PendingToolDefinition[]>;
  /** False when no pending definition of that tool has that fingerprint. */
  accept(resource: string, tool: string, fingerprint: string, by: Identity): Promise<boolean>;
}

const ACCEPT_PATH = /^\/api\/mcp\/tools\/([a-z][a-z0-9_-]*)\/([^/]{1,256})\/accept$/;

/**
 * `GET /api/mcp/tools`: changed tool definitions the caller may accept; `POST /api/mcp/tools/<resource>/<tool>/accept`
 * with `{ "fingerprint": ... }` accepts one. The caller's own OIDC token, as for reviews.
 */
export class ToolDefinitionApi {
  constructor(
    private readonly approvals: ToolDefinitionApprovals,
    private readonly verifier: TokenVerifier,
  ) {}

  async handle(req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean> {
    try {
      if (path === '/api/mcp/tools' && req.method === 'GET') {
        const identity = await this.authenticate(req);
        const resources = this.approvals.approvableBy(identity);
        const pending = (await Promise.all(resources.map((r) => this.approvals.pending(r)))).flat();
        sendJson(res, 200, { tools: pending });
        return true;
      }
      const match = ACCEPT_PATH.exec(path);
      if (match === null) return false;
      if (req.method !== 'POST') {
        sendJson(res, 405, { error: { code: 'request.invalid', message: 'method not allowed' } });
        return true;
      }
      const identity = await this.authenticate(req);
      const resource = match[1] as string;
      const tool = decodeURIComponent(match[2] as string);
      if (!this.approvals.approvableBy(identity).includes(resource))
        throw new GatehouseError('policy.denied', `accepting tools of ${resource} needs a group of its toolApprovers`);
      const fingerprint = optionalString(parseJsonObject(req, await readText(req, 4096)), 'fingerprint');
      if (fingerprint === undefined) throw new GatehouseError('request.invalid', 'send the "fingerprint" you accept');
      if (!(await this.approvals.accept(resource, tool, fingerprint, identity)))
        throw new GatehouseError(
          'request.not_found',
          `no pending definition of ${resource}/${tool} has that fingerprint`,
        );
      sendJson(res, 200, { accepted: { resource, tool, fingerprint } });
      return true;
    } catch (error) {
      sendAdminError(res, error);
      return true;
    }
  }

  private authenticate(req: IncomingMessage): Promise<Identity> {
    return bearerIdentity(req, this.verifier);
  }
}
