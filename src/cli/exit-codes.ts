/** The CLI's documented exit codes (README, CLI section). `policy explain` adds deny and review so it can gate CI. */
export const EXIT = Object.freeze({
  ok: 0,
  /** The command ran and failed: a token refused, a store unreachable, a chain that does not verify. */
  failure: 1,
  /** The command was given something wrong: a flag, an argument, the configuration file. */
  usage: 2,
  /** `policy explain`: the decision is deny. */
  deny: 3,
  /** `policy explain`: the decision is review. */
  review: 4,
});

/** An expected failure with the one line to print and the exit code to end with. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.failure,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** A mistake in flags, arguments or the configuration: exit 2. */
export function usageError(message: string): CliError {
  return new CliError(message, EXIT.usage);
}
