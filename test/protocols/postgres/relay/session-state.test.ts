import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SessionState } from '../../../../src/protocols/postgres/relay/session-state.js';

test('a session relays, skips to Sync after an error, and relays again once synced', () => {
  const state = new SessionState(async () => undefined);
  assert.equal(state.phase, 'relaying');
  state.skipUntilSync();
  assert.equal(state.phase, 'skipping');
  assert.equal(state.skipping, true);
  state.skipUntilSync();
  assert.equal(state.phase, 'skipping', 'a second error while skipping changes nothing');
  state.synced();
  assert.equal(state.phase, 'relaying');
  state.synced();
  assert.equal(state.phase, 'relaying', 'a Sync while relaying changes nothing');
});

test('closing is terminal and shuts down once, whoever asks', async () => {
  const reasons: string[] = [];
  let phaseSeenByShutdown: string | undefined;
  const state = new SessionState(async (reason) => {
    phaseSeenByShutdown = state.phase;
    reasons.push(reason);
  });
  state.skipUntilSync();
  const first = state.close('client terminated');
  const second = state.close('backend connection lost');
  assert.equal(first, second, 'every caller gets the same end');
  await first;
  assert.deepEqual(reasons, ['client terminated']);
  assert.equal(phaseSeenByShutdown, 'closing', 'the shutdown already sees the session closing');
  state.synced();
  state.skipUntilSync();
  assert.equal(state.phase, 'closing');
  assert.equal(state.closing, true);
  assert.equal(state.skipping, false);
});
