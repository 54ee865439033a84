import type { Operation } from '../../../core/operation.js';
import type { OperationHandle, Session } from '../../../session/session.js';
import { toOperation } from '../sql/classify.js';
import type { Frame } from '../wire/frame-reader.js';
import type { FrontendMessage } from '../wire/frontend-messages.js';
import { protocolViolation } from '../wire/protocol-error.js';
import type { BackendRelay } from './backend-relay.js';
import type { BackendWriter } from './backend-writer.js';
import type { PendingResponse, PendingResponses } from './pending-responses.js';
import type { PlanEstimator } from './plan-probe.js';
import { type ResultLimiter, refusalBehindLimited } from './result-limit.js';
import type { ResultRelay } from './result-relay.js';
import type { SessionState } from './session-state.js';
import type { SettingsBarrier } from './settings-barrier.js';
import type { StatementGate } from './statement-gate.js';
import type { StatementNames } from './statement-names.js';
import { StatementRun } from './statement-run.js';

/** The parts of a PostgreSQL session a client message acts on (made and owned by proxy-session.ts). */
export interface ClientMessageParts {
  readonly resourceName: string;
  readonly session: Session;
  readonly names: StatementNames;
  readonly pending: PendingResponses;
  readonly toBackend: BackendWriter;
  readonly relay: BackendRelay;
  readonly results: ResultRelay;
  readonly limiter: ResultLimiter;
  readonly gate: StatementGate;
  readonly barrier: SettingsBarrier;
  readonly estimator: PlanEstimator;
  readonly state: SessionState;
  /** Keeps a statement's result record in flight until the session's end waits for it. */
  readonly track: (done: Promise<void>) => void;
  /** The client's Terminate was queued for the backend: the session closes once it is written. */
  readonly terminated: () => void;
}

type ClientHandlers = {
  readonly [T in FrontendMessage['type']]: (
    messages: ClientMessages,
    message: Extract<FrontendMessage, { type: T }>,
    frame: Frame,
  ) => void | Promise<void>;
};

/**
 * What each frontend message does once the session relays it (proxy-session.ts reads the frames, keeps them in
 * order and skips what the backend would skip): Query and Execute are decided by the statement gate before they go
 * on, Parse, Bind, Describe and Close update what the gateway knows of statements and portals, Sync ends a batch.
 */
export class ClientMessages {
  constructor(readonly parts: ClientMessageParts) {}

  handle(message: FrontendMessage, frame: Frame): void | Promise<void> {
    const handle = ClientMessages.HANDLERS[message.type] as (
      messages: ClientMessages,
      message: FrontendMessage,
      frame: Frame,
    ) => void | Promise<void>;
    return handle(this, message, frame);
  }

  /** What each frontend message does, by message name. */
  private static readonly HANDLERS: ClientHandlers = Object.assign(Object.create(null), {
    Query: (messages, message, frame) => messages.query(message.sql, frame),
    Parse: (messages, message, frame) =>
      messages.forward(frame, {
        kind: 'parse',
        change: messages.parts.names.parse(message.name, message.sql, message.parameterTypes),
      }),
    Bind: (messages, message, frame) => {
      messages.parts.limiter.bound(message.portal);
      messages.forward(frame, {
        kind: 'bind',
        change: messages.parts.names.bind(message.portal, message.statement, frame.body),
        descriptions: messages.parts.results.bound(message.portal),
      });
    },
    Describe: (messages, message, frame) => {
      const item: PendingResponse = { kind: 'describe' };
      messages.parts.relay.describes(item, `${message.target}:${message.name}`);
      messages.forward(frame, item);
    },
    Execute: (messages, message, frame) => messages.execute(message.portal, frame),
    Close: (messages, message, frame) =>
      messages.forward(frame, {
        kind: 'close',
        change: messages.parts.names.close(message.target, message.name),
        descriptions: messages.parts.results.closed(message.target, message.name),
      }),
    Sync: (messages, _message, frame) => messages.sync(frame),
    Flush: (messages, _message, frame) => messages.forward(frame),
    CopyData: (messages, _message, frame) => messages.forward(frame),
    CopyDone: (messages, _message, frame) => messages.forward(frame),
    CopyFail: (messages, _message, frame) => messages.forward(frame),
    Terminate: (messages, _message, frame) => {
      messages.forward(frame);
      messages.parts.terminated();
    },
    FunctionCall: (messages, message) => messages.parts.gate.functionCall(message.functionOid),
    PasswordMessage: () => {
      throw protocolViolation('unexpected PasswordMessage after authentication');
    },
  } satisfies ClientHandlers);

  forward(frame: Frame, pending?: PendingResponse): void {
    this.parts.toBackend.send(frame.bytes);
    if (pending !== undefined) this.parts.pending.push(pending);
  }

  /** Simple Query: one operation for the whole message, however many statements it holds. */
  private async query(sql: string, frame: Frame): Promise<void> {
    const statements = this.parts.names.classify(sql);
    const classified = toOperation(this.parts.resourceName, statements, sql);
    const estimates = await this.parts.estimator.estimate(
      statements,
      this.parts.session.estimatesWantedFor(classified),
    );
    if (this.parts.state.closing) return;
    const operation = estimates === undefined ? classified : { ...classified, estimates };
    const handle = await this.parts.gate.decide(
      operation,
      'simple',
      () => ({ protocol: 'postgres', sql }),
      this.parts.gate.overlaps(statements),
    );
    if (handle === undefined || this.parts.state.closing) return;
    const behind = refusalBehindLimited(handle.decision, statements, false);
    if (behind !== undefined) {
      this.parts.gate.refuse(behind, 'simple', handle);
      return;
    }
    const run = this.newRun(handle);
    if (this.parts.state.skipping) {
      // An extended-protocol error arrived while the decision was being recorded: the backend ignores this Query.
      run.abandon('not run: ignored until Sync after an earlier error');
      return;
    }
    this.parts.names.forget(statements);
    const change = this.parts.names.simpleQuery();
    this.forward(frame, {
      kind: 'query',
      change,
      run,
      onSuccess: () => this.parts.names.define(statements, this.parts.pending.changes()),
    });
    this.parts.barrier.sent(statements, 'simple');
  }

  private sync(frame: Frame): void | Promise<void> {
    // A change under result limits: its transaction must not commit if its result was cut (result-limit.ts).
    const waiting = this.parts.limiter.beforeSync();
    if (waiting === undefined) return this.synced(frame);
    return waiting.then(() => {
      if (!this.parts.state.closing) this.synced(frame);
    });
  }

  private synced(frame: Frame): void {
    this.parts.state.synced();
    this.forward(frame, { kind: 'sync' });
    this.parts.barrier.synced();
  }

  /** Execute: the portal's statement is decided again on every Execute (a suspended portal included). */
  private async execute(portal: string, frame: Frame): Promise<void> {
    const target = this.parts.names.portal(portal);
    const classified =
      target === undefined
        ? unknownPortal(this.parts.resourceName, portal)
        : toOperation(this.parts.resourceName, target.statements, target.prepared.text);
    // Only where a rule asks: the await (and the EXPLAIN) is not paid by every Execute.
    const wanted = target === undefined ? [] : this.parts.session.estimatesWantedFor(classified);
    const estimates =
      target === undefined || wanted.length === 0
        ? undefined
        : await this.parts.estimator.estimateBound(
            target.statements,
            wanted,
            this.parts.names.boundStatement(portal, target.prepared),
          );
    if (this.parts.state.closing) return;
    const operation = estimates === undefined ? classified : { ...classified, estimates };
    const handle = await this.parts.gate.decide(
      operation,
      'extended',
      () => this.parts.names.exact(portal, target?.prepared),
      target !== undefined && this.parts.gate.overlaps(target.statements),
    );
    if (handle === undefined || this.parts.state.closing) return;
    const behind = refusalBehindLimited(
      handle.decision,
      target?.statements ?? [],
      this.parts.pending.limitedInOpenBatch(),
    );
    if (behind !== undefined) {
      this.parts.gate.refuse(behind, 'extended', handle);
      return;
    }
    const run = this.newRun(handle);
    run.portal = portal;
    this.parts.limiter.resume(run);
    if (this.parts.state.skipping) {
      // An earlier message of this batch failed while the decision was being recorded: the backend skips this one.
      run.abandon('not run: an earlier message in the batch failed');
      return;
    }
    const statements = target?.statements ?? [];
    this.parts.names.forget(statements);
    // Masking needs the rows' shape: a portal the client did not Describe is described by the gateway, unseen.
    const describe = this.parts.results.describeBeforeExecute(portal);
    if (describe !== undefined) {
      const item: PendingResponse = { kind: 'describe', injected: true };
      this.parts.relay.describes(item, `P:${portal}`);
      this.parts.toBackend.send(describe);
      this.parts.pending.push(item);
    }
    this.forward(frame, {
      kind: 'execute',
      run,
      onSuccess: () => this.parts.names.define(statements, this.parts.pending.changes()),
    });
    if (handle.decision.resultLimits !== undefined && statements.some((s) => s.kind !== 'read'))
      this.parts.limiter.guard(run);
    // An unknown portal's statement is denied above; anything that ran may have changed a setting.
    this.parts.barrier.sent(statements, 'extended');
  }

  private newRun(handle: OperationHandle): StatementRun {
    return new StatementRun(handle, this.parts.track);
  }
}

function unknownPortal(resource: string, portal: string): Operation {
  return {
    protocol: 'postgres',
    resource,
    kind: 'unknown',
    tags: [],
    action: 'EXECUTE',
    text: `Execute portal "${portal}"`,
    unclassifiable: 'the portal is not bound to a statement the gateway has classified',
  };
}
