import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { AuditEvent, AuditEventInput } from '../../src/core/audit-event.js';
import { type ChainLink, eventHash, genesisHash } from '../../src/store/hash-chain.js';
import type { Store } from '../../src/store/store.js';

/**
 * What every Store must do, run against each implementation on a real database. `open` returns a fresh, empty,
 * not yet migrated store each time.
 */
export function storeContract(name: string, open: () => Promise<Store>): void {
  describe(`${name} store contract`, () => {
    const opened: Store[] = [];
    const fresh = async (): Promise<Store> => {
      const store = await open();
      opened.push(store);
      await store.migrate();
      return store;
    };
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((s) => s.close()));
    });

    it('migrates idempotently and answers ping', async () => {
      const store = await fresh();
      await store.migrate();
      await store.ping();
      assert.deepEqual(await store.readEvents(0, 10), []);
    });

    it('links each event to the previous one by hash, with increasing ids', async () => {
      const store = await fresh();
      const first = await store.appendEvents(sessionEvents('s-1', 1000));
      const second = await store.appendEvents(sessionEvents('s-2', 2000));
      const all = await readAll(store);
      assert.deepEqual(
        all.map(({ id, chain, seq, prevHash, hash }) => ({ id, chain, seq, prevHash, hash })),
        [...first, ...second],
        'what append returns is where reads find the events',
      );
      assert.deepEqual(
        all.map((e) => e.seq),
        all.map((_, i) => i + 1),
        'positions in the chain run from 1 with no gap',
      );
      assert.ok(all.every((e) => e.chain === store.chain));
      assert.deepEqual(await store.listChains(), [store.chain]);
      assert.deepEqual(await store.chainHead(), { seq: 8, hash: all.at(-1)?.hash });
      assert.deepEqual(await store.chainHeads(), [{ chain: store.chain, seq: 8, hash: all.at(-1)?.hash }]);
      assert.deepEqual(
        (await store.readChain(store.chain, 5, 2)).map((e) => e.seq),
        [6, 7],
      );
      assert.deepEqual(await store.readChain('no-such-chain', 0, 10), []);
      assert.deepEqual(
        all.map((e) => e.id),
        all.map((_, i) => i + 1),
      );
      assert.equal(all[0]?.prevHash, genesisHash(store.chain));
      assertChain(all);
    });

    it('preserves order within and across batches', async () => {
      const store = await fresh();
      const batches = [sessionEvents('a', 10), sessionEvents('b', 20), sessionEvents('c', 30)];
      for (const batch of batches) await store.appendEvents(batch);
      const all = await readAll(store);
      assert.deepEqual(
        all.map((e) => [e.sessionId, e.type, e.at]),
        batches.flat().map((e) => [e.sessionId, e.type, e.at]),
      );
      assert.deepEqual(all[1]?.payload, { seq: 1, kind: 'read', tags: [], action: 'SELECT', verdict: 'allow' });
    });

    it('stores nothing from a batch with a payload that is not JSON', async () => {
      const store = await fresh();
      await store.appendEvents(sessionEvents('ok', 1));
      const bad: AuditEventInput[] = [
        start('bad', 5),
        { sessionId: 'bad', type: 'operation', at: 6, payload: { seq: 1, size: 10n } },
      ];
      await assert.rejects(store.appendEvents(bad));
      assert.equal((await readAll(store)).length, 4);
      assert.equal(await store.getSession('bad'), undefined);
      // The chain continues from the last stored event.
      await store.appendEvents(sessionEvents('after', 7));
      assertChain(await readAll(store));
    });

    it('rolls back a batch the database refuses part-way', async () => {
      const store = await fresh();
      await store.appendEvents(sessionEvents('ok', 1));
      const refused: AuditEventInput[] = [
        start('partial', 5),
        operation('partial', 6, 1, 'allow'),
        // A null session id violates NOT NULL in the database itself, after the first rows were written.
        { sessionId: null as unknown as string, type: 'operation', at: 7, payload: { seq: 2, verdict: 'allow' } },
      ];
      await assert.rejects(store.appendEvents(refused));
      assert.equal((await readAll(store)).length, 4);
      assert.equal(await store.getSession('partial'), undefined);
      const later = await store.appendEvents(sessionEvents('later', 8));
      assert.equal(later[0]?.seq, 5, 'the chain has no gap where the refused batch was');
      assertChain(await readAll(store));
    });

    it('keeps the session index: operations, denied, end time', async () => {
      const store = await fresh();
      await store.appendEvents([start('idx-1', 100, { resource: 'db', groups: ['dev', 'ops'] })]);
      await store.appendEvents([
        operation('idx-1', 101, 1, 'allow'),
        result('idx-1', 102, 1),
        operation('idx-1', 103, 2, 'deny'),
        operation('idx-1', 104, 3, 'review'),
      ]);
      // A session that starts, works and ends in one batch.
      await store.appendEvents([
        start('idx-2', 200),
        operation('idx-2', 201, 1, 'deny'),
        operation('idx-2', 202, 2, 'allow'),
        end('idx-2', 203),
        operation('idx-1', 204, 4, 'allow'),
      ]);
      await store.appendEvents([end('idx-1', 300)]);

      const one = await store.getSession('idx-1');
      assert.deepEqual(one?.summary, {
        id: 'idx-1',
        protocol: 'postgres',
        resource: 'db',
        issuer: 'https://issuer.test',
        subject: 'agent-idx-1',
        groups: ['dev', 'ops'],
        startedAt: 100,
        endedAt: 300,
        operations: 4,
        denied: 2,
      });
      assert.deepEqual(
        one?.events.map((e) => e.type),
        ['session.start', 'operation', 'operation.result', 'operation', 'operation', 'operation', 'session.end'],
      );
      const two = await store.getSession('idx-2');
      assert.equal(two?.summary.resource, null);
      assert.deepEqual([two?.summary.operations, two?.summary.denied, two?.summary.endedAt], [2, 1, 203]);
      assert.equal(two?.events.length, 4);
    });

    it('lists sessions newest first, with limit, since and subject', async () => {
      const store = await fresh();
      await store.appendEvents([
        start('l-1', 1000, { subject: 'alice' }),
        start('l-2', 2000, { subject: 'bob' }),
        start('l-3', 3000, { subject: 'alice' }),
        start('l-4', 4000, { subject: 'carol' }),
      ]);
      const ids = async (query: Parameters<Store['listSessions']>[0]) =>
        (await store.listSessions(query)).map((s) => s.id);
      assert.deepEqual(await ids({ limit: 10 }), ['l-4', 'l-3', 'l-2', 'l-1']);
      assert.deepEqual(await ids({ limit: 2 }), ['l-4', 'l-3']);
      assert.deepEqual(await ids({ limit: 10, since: 2000 }), ['l-4', 'l-3', 'l-2']);
      assert.deepEqual(await ids({ limit: 10, subject: 'alice' }), ['l-3', 'l-1']);
      assert.deepEqual(await ids({ limit: 10, subject: 'alice', since: 1001 }), ['l-3']);
      assert.deepEqual(await ids({ limit: 10, subject: 'nobody' }), []);
    });

    it('finds a session by a unique id prefix of at least six characters', async () => {
      const store = await fresh();
      const a = 'abcdef01-0000-4000-8000-000000000001';
      const b = 'abcdef02-0000-4000-8000-000000000002';
      const c = '12345678-0000-4000-8000-000000000003';
      await store.appendEvents([start(a, 1), start(b, 2), start(c, 3)]);
      assert.equal((await store.getSession(a))?.summary.id, a);
      assert.equal((await store.getSession('abcdef01'))?.summary.id, a);
      assert.equal((await store.getSession('abcdef02-0'))?.summary.id, b);
      assert.equal((await store.getSession('123456'))?.summary.id, c);
      assert.equal(await store.getSession('abcdef0'), undefined, 'ambiguous');
      assert.equal(await store.getSession('12345'), undefined, 'too short');
      assert.equal(await store.getSession('ABCDEF01'), undefined, 'case-sensitive');
      assert.equal(await store.getSession('ffffffff'), undefined, 'unknown');
      assert.equal(await store.getSession('abcde%'), undefined, 'no wildcards');
      assert.equal(await store.getSession(''), undefined);
    });

    it('pages through events with afterId', async () => {
      const store = await fresh();
      const batch: AuditEventInput[] = [start('p', 0)];
      for (let i = 1; i < 25; i++) batch.push(operation('p', i, i, 'allow'));
      await store.appendEvents(batch);
      const pages: number[][] = [];
      let after = 0;
      for (;;) {
        const page = await store.readEvents(after, 10);
        if (page.length === 0) break;
        pages.push(page.map((e) => e.id));
        after = page.at(-1)!.id;
      }
      assert.deepEqual(
        pages.map((p) => p.length),
        [10, 10, 5],
      );
      assert.deepEqual(
        pages.flat(),
        [...Array(25).keys()].map((i) => i + 1),
      );
      assert.deepEqual(
        (await store.readEvents(20, 3)).map((e) => e.id),
        [21, 22, 23],
      );
    });

    it('keeps one consistent chain under concurrent appends', async () => {
      const store = await fresh();
      const batches = Array.from({ length: 40 }, (_, i) => sessionEvents(`c-${i}`, i * 10));
      const results = await Promise.all(batches.map((b) => store.appendEvents(b)));
      const all = await readAll(store);
      assertChain(all);
      assert.deepEqual(
        all.map((e) => e.seq),
        all.map((_, i) => i + 1),
      );
      assertBatchesContiguous(all, results);
      const sessions = await store.listSessions({ limit: 100 });
      assert.equal(sessions.length, 40);
      assert.ok(sessions.every((s) => s.operations === 1 && s.endedAt !== null));
    });

    it("finds a session's events whether the session index has reached them or not", async () => {
      const store = await fresh();
      await store.appendEvents([start('ix-a', 10), start('ix-b', 11)]);
      await store.appendEvents([
        operation('ix-a', 12, 1, 'allow'),
        operation('ix-b', 13, 1, 'deny'),
        result('ix-a', 14, 1),
      ]);
      const summaries = async () =>
        (await store.listSessions({ limit: 10 })).map((s) => [s.id, s.operations, s.denied]).sort();
      const types = async (id: string) => (await store.getSession(id))?.events.map((e) => `${e.id}:${e.type}`);

      // Nothing indexed yet: everything is found in the tail.
      assert.deepEqual(await types('ix-a'), ['1:session.start', '3:operation', '5:operation.result']);
      assert.deepEqual(await summaries(), [
        ['ix-a', 1, 0],
        ['ix-b', 1, 1],
      ]);

      assert.equal(await store.indexSessionEvents(), 5, 'the catch-up passes every event so far');
      assert.equal(await store.indexSessionEvents(), 0, 'and then has nothing left to do');
      assert.deepEqual(await types('ix-a'), ['1:session.start', '3:operation', '5:operation.result']);

      // Half indexed, half in the tail: found once each, in order.
      await store.appendEvents([
        operation('ix-a', 15, 2, 'review'),
        operation('ix-b', 16, 2, 'allow'),
        end('ix-a', 17),
      ]);
      assert.deepEqual(await types('ix-a'), [
        '1:session.start',
        '3:operation',
        '5:operation.result',
        '6:operation',
        '8:session.end',
      ]);
      assert.deepEqual(await summaries(), [
        ['ix-a', 2, 1],
        ['ix-b', 2, 1],
      ]);
      assert.equal(await store.indexSessionEvents(), 3);
      assert.deepEqual(await types('ix-b'), ['2:session.start', '4:operation', '7:operation']);
    });

    for (const indexed of [false, true]) {
      it(`prunes whole sessions before the retention boundary (session index ${indexed ? 'caught up' : 'behind'})`, async () => {
        const store = await fresh();
        await store.appendEvents([start('old', 10), operation('old', 11, 1, 'allow'), end('old', 12)]);
        await store.appendEvents([start('new', 1000), operation('new', 1001, 1, 'allow')]);
        if (indexed) assert.equal(await store.indexSessionEvents(), 5);

        const boundary = await store.retentionBoundary(store.chain, 500);
        assert.equal(boundary, 3, "the old session's events may go, the new one's first event may not");
        const anchor = {
          chain: store.chain,
          eventId: boundary,
          hash: 'h',
          at: 2000,
          reason: 'prune',
          keyId: 'k',
          signature: 's',
        };
        assert.deepEqual(await store.prune(boundary, anchor), { events: 3, sessions: 1 });

        assert.equal(await store.getSession('old'), undefined);
        assert.deepEqual(
          (await store.getSession('new'))?.events.map((e) => e.id),
          [4, 5],
        );
        assert.deepEqual(
          (await store.listSessions({ limit: 10 })).map((s) => s.id),
          ['new'],
        );
        assert.equal(await store.indexSessionEvents(), 0, 'a prune leaves the index at the head');
        // A session active on both sides of the cutoff keeps all its events.
        await store.appendEvents([operation('new', 3000, 2, 'allow')]);
        assert.equal(await store.retentionBoundary(store.chain, 2500), 3);
        assert.equal(await store.retentionBoundary('no-such-chain', 2500), 0);
        assert.deepEqual(
          (await store.listCheckpoints(store.chain)).map((c) => [c.chain, c.eventId]),
          [[store.chain, 3]],
        );
      });
    }

    it('appends an empty batch as a no-op', async () => {
      const store = await fresh();
      assert.deepEqual(await store.appendEvents([]), []);
      assert.deepEqual(await store.readEvents(0, 10), []);
    });
  });
}

/**
 * Every event's prevHash is the previous event's hash in its chain, and its hash is recomputed from its content and
 * its position in the chain.
 */
export function assertChain(events: readonly AuditEvent[]): void {
  const prev = new Map<string, string>();
  for (const e of events) {
    const expected = prev.get(e.chain) ?? genesisHash(e.chain);
    assert.equal(e.prevHash, expected, `event ${e.chain}:${e.seq} links to the previous event of its chain`);
    const payloadJson = JSON.stringify(e.payload);
    assert.equal(
      e.hash,
      eventHash(expected, { id: e.seq, sessionId: e.sessionId, type: e.type, at: e.at, payloadJson }),
    );
    prev.set(e.chain, e.hash);
  }
}

/** Each appendEvents call's events are stored next to each other, in the order given. */
export function assertBatchesContiguous(all: readonly AuditEvent[], results: readonly (readonly ChainLink[])[]): void {
  const byId = new Map(all.map((e) => [e.id, e]));
  for (const batch of results) {
    batch.forEach((e, i) => {
      const stored = byId.get(e.id);
      assert.deepEqual(
        { id: stored?.id, chain: stored?.chain, seq: stored?.seq, prevHash: stored?.prevHash, hash: stored?.hash },
        e,
      );
      if (i > 0) assert.equal(e.seq, batch[i - 1]!.seq + 1);
    });
  }
}

export async function readAll(store: Store): Promise<AuditEvent[]> {
  const all: AuditEvent[] = [];
  for (;;) {
    const page = await store.readEvents(all.at(-1)?.id ?? 0, 1000);
    if (page.length === 0) return all;
    all.push(...page);
  }
}

export function start(
  sessionId: string,
  at: number,
  extra: { subject?: string; resource?: string; groups?: string[] } = {},
): AuditEventInput {
  return {
    sessionId,
    type: 'session.start',
    at,
    payload: {
      protocol: 'postgres',
      resource: extra.resource,
      issuer: 'https://issuer.test',
      subject: extra.subject ?? `agent-${sessionId}`,
      groups: extra.groups ?? ['dev'],
      tokenId: `tok-${sessionId}`,
    },
  };
}

export function operation(sessionId: string, at: number, seq: number, verdict: string): AuditEventInput {
  return { sessionId, type: 'operation', at, payload: { seq, kind: 'read', tags: [], action: 'SELECT', verdict } };
}

export function result(sessionId: string, at: number, seq: number): AuditEventInput {
  return { sessionId, type: 'operation.result', at, payload: { seq, outcome: 'ok', rows: 1, durationMs: 2 } };
}

export function end(sessionId: string, at: number): AuditEventInput {
  return { sessionId, type: 'session.end', at, payload: { reason: 'client closed' } };
}

/** start, one allowed read, its result, end. */
export function sessionEvents(sessionId: string, at: number): AuditEventInput[] {
  return [
    start(sessionId, at),
    operation(sessionId, at + 1, 1, 'allow'),
    result(sessionId, at + 2, 1),
    end(sessionId, at + 3),
  ];
}
