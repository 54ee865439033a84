import { Command, CommanderError } from 'commander';
import { COMMANDS } from './command-list.js';
import { EXIT } from './exit-codes.js';

// Output piped to `head` and closed early: stop quietly, as other command-line tools do, instead of a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(EXIT.ok);
    throw error;
  });
}

const program = new Command('gatehouse')
  .description('Identity-aware gateway for non-human identities')
  .version('0.1.0')
  .exitOverride()
  .configureOutput({
    // Commander's own mistakes (unknown option, missing argument) as one line, like every other failure.
    outputError: (text, write) => write(`gatehouse: ${text.replace(/^error: /, '').trimEnd()} (see --help)\n`),
  });

try {
  const [requested, next] = process.argv.slice(2);
  const named = requested === 'help' ? next : requested;
  const entry = named !== undefined ? COMMANDS[named] : undefined;
  if (entry !== undefined) (await entry.load())(program);
  else {
    // Top-level help or an unknown command: the help lines alone, no command module loaded.
    for (const [name, { description }] of Object.entries(COMMANDS)) program.command(name).description(description);
  }
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // Help and version end with code 0; every other commander error is a usage mistake, already printed.
    process.exit(error.exitCode === 0 ? EXIT.ok : EXIT.usage);
  }
  if (process.env.GATEHOUSE_DEBUG) process.stderr.write(`${(error as Error)?.stack ?? String(error)}\n`);
  const { describeFailure } = await import('./failure.js');
  const failure = describeFailure(error);
  process.stderr.write(`gatehouse: ${failure.text}\n`);
  process.exit(failure.exitCode);
}
