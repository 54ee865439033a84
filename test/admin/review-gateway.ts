import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ApprovalOutcome } from '../../src/approvals/approval-outcome.js';
import type { Identity } from '../../src/core/identity.js';
import type { OperationEstimates } from '../../src/core/operation.js';
import type { Gateway } from '../../src/gateway/gateway.js';
import { startHttpGateway } from '../support/http-gateway.js';
import { type LocalIssuer, startLocalIssuer } from '../support/local-issuer.js';

export const AUDIENCE = 'https://gatehouse.test';
export const NOTIFY_SECRET = 'notify-secret-0123456789';
export const INBOUND_SECRET = 'inbound-secret-0123456789';

/** An HTTP server that records every POST it receives (webhook receiver). */
export class Receiver {
  readonly received: { headers: IncomingHttpHeaders; body: string }[] = [];
  readonly server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      this.received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(204).end();
    });
  });
  async start(): Promise<string> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
  }
  close(): void {
    this.server.closeAllConnections();
    this.server.close();
  }
}

export interface ReviewGateway {
  readonly gateway: Gateway;
  readonly admin: string;
  readonly issuer: LocalIssuer;
  readonly json: Receiver;
  readonly slack: Receiver;
  token(subject: string, groups: string[]): Promise<string>;
  identity(subject: string, groups: string[]): Identity;
  /** Holds an operation as a listener would; resolves once its review exists. */
  hold(
    who: Identity,
    sql: string,
    options?: { onTimeout?: 'expire' | 'pending'; waitMs?: number; estimates?: OperationEstimates },
  ): Promise<{ id: string; outcome: Promise<ApprovalOutcome> }>;
  close(): Promise<void>;
}

/** A whole Gateway with its admin listener, a trusted local issuer and two webhook receivers. */
export async function startReviewGateway(): Promise<ReviewGateway> {
  const issuer = await startLocalIssuer();
  const json = new Receiver();
  const slack = new Receiver();
  const jsonUrl = await json.start();
  const slackUrl = await slack.start();
  // The admin API only: the statements under review are submitted through the approval service directly.
  const { gateway, admin } = await startHttpGateway({
    dirPrefix: 'gh-reviews-',
    issuers: [
      {
        issuer: issuer.issuer,
        audience: AUDIENCE,
        jwksUri: issuer.jwksUri,
        algorithms: ['ES256'],
        maxTokenLifetime: '10m',
      },
    ],
    env: { NOTIFY_SECRET, INBOUND_SECRET },
    http: false,
    admin: true,
    yaml: `
approvals:
  timeout: 10m
  pollInterval: 100ms
  publicUrl: http://approvals.example.test
  notifications:
    - { name: signed, url: ${jsonUrl}, secret: "\${env:NOTIFY_SECRET}", events: [created, approved, denied] }
    - { name: chat, url: ${slackUrl}, format: slack, events: [created] }
  inbound: { secret: "\${env:INBOUND_SECRET}", issuer: chatops, groups: [data-owners], tolerance: 2m }
  access:
    - { resources: [vectors], kinds: [write], requesters: [indexers], approvers: [data-owners], maxDuration: 2h }
resources:
  - name: vectors
    protocol: postgres
    target: { host: 127.0.0.1, database: app, user: app }
    policy:
      - groups: [indexers]
        allow: [read]
        review: [write]
        approvers: [data-owners]
      - groups: [bulk-writers]
        allow: [read, write]
        maxRows: 1000
        approvers: [data-owners]
`,
  });
  const identityOf = (subject: string, groups: string[]): Identity => ({
    issuer: issuer.issuer,
    subject,
    groups,
    tokenId: `jti-${subject}`,
    expiresAt: Date.now() + 600_000,
    claims: {},
  });
  return {
    gateway,
    admin,
    issuer,
    json,
    slack,
    identity: identityOf,
    token: (subject, groups) => {
      const now = Math.floor(Date.now() / 1000);
      return issuer.sign({
        iss: issuer.issuer,
        aud: AUDIENCE,
        sub: subject,
        groups,
        iat: now,
        exp: now + 300,
        jti: randomUUID(),
      });
    },
    hold: async (who, sql, options = {}) => {
      const { approvals, policy } = gateway.services;
      const operation = {
        protocol: 'postgres' as const,
        resource: 'vectors',
        kind: 'write' as const,
        tags: [],
        action: 'DELETE',
        text: sql,
        ...(options.estimates === undefined ? {} : { estimates: options.estimates }),
      };
      const decision = policy.decide(operation, { identity: who });
      let created!: (id: string) => void;
      const id = new Promise<string>((resolve) => {
        created = resolve;
      });
      const outcome = approvals.requestApproval(
        { identity: who, sessionId: randomUUID(), operation, decision, exact: { protocol: 'postgres', sql } },
        { waitMs: options.waitMs ?? 60_000, onTimeout: options.onTimeout ?? 'expire', onReview: (r) => created(r.id) },
      );
      // A request that fails before its review exists (no approvers...) must fail the test, not hang it.
      return {
        id: await Promise.race([id, outcome.then(() => Promise.reject(new Error('no review was created')))]),
        outcome,
      };
    },
    close: async () => {
      await gateway.stop();
      await issuer.close();
      json.close();
      slack.close();
    },
  };
}
