import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  formatBytes,
  formatDuration,
  formatSessionDetail,
  formatSessionList,
  formatTimelineLine,
  truncate,
} from '../../src/audit/session-view.js';
import type { AuditEvent, SessionSummary } from '../../src/core/audit-event.js';

const T0 = Date.UTC(2025, 0, 2, 3, 4, 5, 678);

const summary: SessionSummary = {
  id: 'abcdef01-0000-4000-8000-000000000001',
  protocol: 'postgres',
  resource: 'orders-db',
  issuer: 'https://issuer.test',
  subject: 'agent-7',
  groups: ['dev', 'ops'],
  startedAt: T0,
  endedAt: T0 + 65_000,
  operations: 2,
  denied: 1,
};

let id = 0;
const ev = (type: AuditEvent['type'], at: number, payload: Record<string, unknown>): AuditEvent => ({
  id: ++id,
  chain: 'default',
  seq: id,
  sessionId: summary.id,
  type,
  at,
  payload,
  prevHash: '0'.repeat(64),
  hash: 'f'.repeat(64),
});

describe('session view', () => {
  it('formats durations, sizes and truncation', () => {
    assert.equal(formatDuration(850), '850ms');
    assert.equal(formatDuration(12_340), '12.3s');
    assert.equal(formatDuration(245_000), '4m05s');
    assert.equal(formatDuration(7_380_000), '2h03m');
    assert.equal(formatDuration(273_600_000), '3d04h');
    assert.equal(formatDuration(-1), '?');
    assert.equal(formatBytes(512), '512B');
    assert.equal(formatBytes(1536), '1.5KiB');
    assert.equal(formatBytes(3.2 * 1024 * 1024), '3.2MiB');
    assert.equal(truncate('select  *\n  from t', 80), 'select * from t');
    assert.equal(truncate('abcdefghij', 5), 'abcd…');
  });

  it('lists sessions as an aligned table', () => {
    const open: SessionSummary = { ...summary, id: 'open-1', resource: null, endedAt: null, subject: 'svc' };
    const text = formatSessionList([summary, open]);
    const lines = text.trimEnd().split('\n');
    assert.equal(lines.length, 3);
    assert.match(lines[0]!, /^ID\s+STARTED \(UTC\)\s+DURATION\s+PROTOCOL\s+RESOURCE\s+SUBJECT\s+OPS\s+DENIED$/);
    assert.match(lines[1]!, /^abcdef01-\S+\s+2025-01-02 03:04:05\s+1m05s\s+postgres\s+orders-db\s+agent-7\s+2\s+1$/);
    assert.match(lines[2]!, /^open-1\s+2025-01-02 03:04:05\s+open\s+postgres\s+-\s+svc\s+2\s+1$/);
    // Columns line up: every row has its subject at the header's SUBJECT column.
    const col = lines[0]!.indexOf('SUBJECT');
    assert.equal(lines[1]!.indexOf('agent-7'), col);
    assert.equal(lines[2]!.indexOf('svc'), col);
    assert.equal(formatSessionList([]), 'no sessions\n');
  });

  it('describes each event type on one line', () => {
    assert.equal(
      formatTimelineLine(
        ev('session.start', T0, {
          subject: 'agent-7',
          userName: 'app',
          clientAddress: '10.0.0.5',
          resource: 'orders-db',
        }),
      ),
      '03:04:05.678  session.start     agent-7 as app from 10.0.0.5 to orders-db',
    );
    assert.equal(
      formatTimelineLine(
        ev('operation', T0 + 1, {
          seq: 2,
          kind: 'write',
          tags: ['delete-without-where'],
          action: 'DELETE',
          text: `DELETE FROM orders\n  -- ${'x'.repeat(100)}`,
          verdict: 'deny',
          rule: 'resources.orders-db.policy[0]',
          selector: 'deny: delete-without-where',
        }),
      ),
      `03:04:05.679  operation         #2 write [delete-without-where] DENY (resources.orders-db.policy[0]: deny: delete-without-where) DELETE FROM orders -- ${'x'.repeat(57)}…`,
    );
    assert.equal(
      formatTimelineLine(
        ev('operation', T0, { seq: 1, kind: 'read', tags: [], action: 'GET /v1/models', verdict: 'allow' }),
      ),
      '03:04:05.678  operation         #1 read ALLOW GET /v1/models',
    );
    assert.equal(
      formatTimelineLine(
        ev('operation.result', T0, {
          seq: 1,
          outcome: 'ok',
          status: 200,
          rows: 12,
          bytesIn: 300,
          bytesOut: 2048,
          durationMs: 15,
        }),
      ),
      '03:04:05.678  operation.result  #1 ok status=200 rows=12 in=300B out=2.0KiB 15ms',
    );
    assert.equal(
      formatTimelineLine(
        ev('operation.result', T0, { seq: 3, outcome: 'error', error: 'relation "x" does not exist' }),
      ),
      '03:04:05.678  operation.result  #3 error error: relation "x" does not exist',
    );
    assert.equal(
      formatTimelineLine(ev('session.end', T0 + 65_000, { reason: 'client closed' })),
      '03:05:10.678  session.end       client closed',
    );
  });

  it('shows the summary, then the timeline', () => {
    const text = formatSessionDetail(summary, [
      ev('session.start', T0, { subject: 'agent-7' }),
      ev('session.end', T0 + 65_000, { reason: 'client closed' }),
    ]);
    assert.equal(
      text,
      [
        'Session:    abcdef01-0000-4000-8000-000000000001',
        'Subject:    agent-7',
        'Issuer:     https://issuer.test',
        'Groups:     dev, ops',
        'Protocol:   postgres',
        'Resource:   orders-db',
        'Started:    2025-01-02 03:04:05 UTC',
        'Ended:      2025-01-02 03:05:10 UTC (after 1m05s)',
        'Operations: 2 (1 not allowed)',
        '',
        '03:04:05.678  session.start     agent-7',
        '03:05:10.678  session.end       client closed',
        '',
      ].join('\n'),
    );
    // An operation stored with its result (see unfoldResult) shows as the two events it stands for.
    const folded = formatSessionDetail(summary, [
      ev('operation', T0, {
        seq: 4,
        kind: 'read',
        tags: [],
        text: 'select 1',
        verdict: 'allow',
        result: { durationMs: 2, outcome: 'ok', rows: 1, bytesOut: 66 },
      }),
    ]);
    assert.deepEqual(folded.trimEnd().split('\n').slice(-2), [
      '03:04:05.678  operation         #4 read ALLOW select 1',
      '03:04:05.680  operation.result  #4 ok rows=1 out=66B 2ms',
    ]);
    const open = formatSessionDetail({ ...summary, endedAt: null }, []);
    assert.match(open, /\nEnded:\s+still open\n/);
    assert.match(open, /\n\n\(no events\)\n$/);
  });
});
