import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Command } from 'commander';
import { COMMANDS } from '../../src/cli/command-list.js';

/** `gatehouse --help` prints the lines of the command list without loading the modules: they must say the same. */
describe('command list', () => {
  test('each top-level help line is the one its module registers', async () => {
    for (const [name, entry] of Object.entries(COMMANDS)) {
      const program = new Command('gatehouse');
      (await entry.load())(program);
      const registered = program.commands.find((c) => c.name() === name);
      assert.ok(registered, `${name} is registered by its module`);
      assert.equal(registered.description(), entry.description, name);
    }
  });
});
