import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ApprovalService } from '../../src/approvals/approval-service.js';
import { createApprovals } from '../../src/approvals/create-approvals.js';
import { AuditRecorder } from '../../src/audit/recorder.js';
import { parseConfig } from '../../src/config/load.js';
import type { GatehouseConfig } from '../../src/config/schema.js';
import type { Clock } from '../../src/core/clock.js';
import type { Identity } from '../../src/core/identity.js';
import type { Operation } from '../../src/core/operation.js';
import { createLogger } from '../../src/gateway/logger.js';
import { FEATURE_MIGRATIONS } from '../../src/gateway/store-migrations.js';
import type { PolicyEngine } from '../../src/policy/engine.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { Store } from '../../src/store/store.js';
import { temporaryDirectory } from '../support/temp-dir.js';

/** A clock the test moves by hand: expiry and access windows are checked against it, never by sleeping. */
export class ManualClock implements Clock {
  constructor(public t = Date.UTC(2030, 0, 1)) {}
  now(): number {
    return this.t;
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

export const APPROVALS_YAML = `
identity:
  issuers:
    - issuer: https://ci.issuer.test
      audience: gatehouse
      jwksUri: http://127.0.0.1:1/jwks
approvals:
  timeout: 10m
  validity: 5m
  pollInterval: 40ms
  bodyExcerptBytes: 16
  access:
    - resources: [vectors]
      kinds: [write]
      requesters: [indexers]
      approvers: [data-owners]
      maxDuration: 2h
resources:
  - name: vectors
    protocol: postgres
    target: { host: 127.0.0.1, database: app, user: app }
    policy:
      - groups: [indexers]
        allow: [read]
        review: [write]
        approvers: [data-owners]
      - groups: [admins]
        allow: [read]
        review: [ddl]
        approvers: [dba]
        approvals: 2
      - groups: [nobody-approves]
        review: [write]
  - name: llm
    protocol: http
    target: http://127.0.0.1:1
    pathPrefix: /llm
    policy:
      - groups: [agents]
        allow: [read]
        review: [write]
        approvers: [data-owners]
`;

export interface Harness {
  readonly config: GatehouseConfig;
  readonly store: Store;
  readonly recorder: AuditRecorder;
  readonly policy: PolicyEngine;
  readonly approvals: ApprovalService;
  readonly clock: ManualClock;
  readonly dbPath: string;
  close(): Promise<void>;
}

/** A real SQLite store, audit recorder, policy engine and approval service, as the gateway wires them. */
export async function openHarness(
  options: { dbPath?: string; clock?: ManualClock; yaml?: string; openStore?: () => Promise<Store> } = {},
) {
  const dbPath = options.dbPath ?? join(temporaryDirectory('gh-approvals-'), 'gatehouse.db');
  const { config } = parseConfig(options.yaml ?? APPROVALS_YAML, join(tmpdir(), 'gatehouse.yaml'));
  const store = options.openStore ? await options.openStore() : await SqliteStore.open(dbPath);
  await store.migrate(FEATURE_MIGRATIONS);
  const logger = createLogger('silent');
  const recorder = new AuditRecorder(store, { logger });
  const clock = options.clock ?? new ManualClock();
  const { policy, approvals } = createApprovals({ config, store, recorder, clock, logger });
  await approvals.start();
  const harness: Harness = {
    config,
    store,
    recorder,
    policy,
    approvals,
    clock,
    dbPath,
    close: async () => {
      await approvals.stop();
      await recorder.close();
      await store.close();
    },
  };
  return harness;
}

export function identity(subject: string, groups: string[], issuer = 'https://ci.issuer.test'): Identity {
  return {
    issuer,
    subject,
    groups,
    tokenId: `jti-${subject}`,
    expiresAt: Date.UTC(2031, 0, 1),
    claims: {},
  };
}

export function sqlOperation(text: string, kind: Operation['kind'] = 'write', tags: Operation['tags'] = []): Operation {
  return { protocol: 'postgres', resource: 'vectors', kind, tags, action: text.split(' ')[0] as string, text };
}

export function httpOperation(method: string, path: string): Operation {
  return {
    protocol: 'http',
    resource: 'llm',
    kind: 'write',
    tags: [],
    action: `${method} ${path}`,
    text: `${method} ${path}`,
  };
}
