import type { Command } from 'commander';
import { parseDuration } from '../../core/duration.js';
import { GatehouseError } from '../../core/errors.js';
import { type AdminClientOptions, adminClient, withAdminClientOptions } from './reviews.js';

interface RequestOptions extends AdminClientOptions {
  readonly resource: string;
  readonly kind: string;
  readonly for: string;
  readonly reason: string;
  readonly group?: string;
  readonly json?: boolean;
}

/** `gatehouse access request`: asks approvers for a time-boxed access window, authenticated with your own token. */
export function registerAccessCommands(program: Command): void {
  const access = program.command('access').description('request time-boxed elevated access (access windows)');
  withAdminClientOptions(access.command('request').description('ask for an access window; approvers decide it'))
    .requiredOption('--resource <name>', 'resource name, e.g. vectors')
    .requiredOption('--kind <kind>', 'read, write, ddl or admin')
    .requiredOption('--for <duration>', 'how long, e.g. 30m, 2h')
    .requiredOption('--reason <text>', 'why, for the approvers')
    .option('--group <group>', 'grant it to this group of yours instead of only you')
    .option('--json', 'print JSON')
    .action(async (options: RequestOptions) => {
      if (parseDuration(options.for) === undefined) {
        throw new GatehouseError('request.invalid', `--for expects a duration such as 30m, got "${options.for}"`);
      }
      const review = await adminClient(options).requestAccess({
        resource: options.resource,
        kind: options.kind,
        duration: options.for,
        reason: options.reason,
        ...(options.group === undefined ? {} : { group: options.group }),
      });
      process.stdout.write(
        options.json
          ? `${JSON.stringify(review, null, 2)}\n`
          : `access review ${review.id} is ${review.state}: ${review.operation.text}; approvers: ${review.approverGroups.join(', ')}\n`,
      );
    });
}
