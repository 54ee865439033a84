import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ReadWriteLock } from '../../src/agent/read-write-lock.js';

/** A promise with its resolve function, to hold a holder inside the lock until the test lets it go. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open: () => void = () => undefined;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('ReadWriteLock (logins shared, a password change exclusive)', () => {
  test('shared holders run together; an exclusive one waits for all of them, and they for it', async () => {
    const lock = new ReadWriteLock();
    const events: string[] = [];
    const first = gate();
    const second = gate();
    const a = lock.shared(async () => {
      events.push('a in');
      await first.promise;
      events.push('a out');
    });
    const b = lock.shared(async () => {
      events.push('b in');
      await second.promise;
      events.push('b out');
    });
    const change = lock.exclusive(async () => {
      events.push('change');
    });
    await tick();
    assert.deepEqual(events, ['a in', 'b in'], 'both logins in; the change waits');
    first.open();
    await a;
    await tick();
    assert.deepEqual(events, ['a in', 'b in', 'a out'], 'still waiting for b');
    second.open();
    await Promise.all([b, change]);
    assert.deepEqual(events, ['a in', 'b in', 'a out', 'b out', 'change']);
  });

  test('a waiting change is not starved: logins that come after it wait until it is done', async () => {
    const lock = new ReadWriteLock();
    const events: string[] = [];
    const held = gate();
    const early = lock.shared(async () => {
      events.push('early login');
      await held.promise;
    });
    const change = lock.exclusive(async () => {
      events.push('change');
    });
    const late = lock.shared(async () => {
      events.push('late login');
    });
    await tick();
    assert.deepEqual(events, ['early login'], 'the late login does not jump ahead of the waiting change');
    held.open();
    await Promise.all([early, change, late]);
    assert.deepEqual(events, ['early login', 'change', 'late login']);
  });

  test('a failing holder releases the lock', async () => {
    const lock = new ReadWriteLock();
    await assert.rejects(
      lock.exclusive(async () => {
        throw new Error('ALTER ROLE failed');
      }),
      /ALTER ROLE failed/,
    );
    await assert.rejects(
      lock.shared(async () => {
        throw new Error('login failed');
      }),
      /login failed/,
    );
    assert.equal(await lock.exclusive(async () => 'free'), 'free');
  });
});
