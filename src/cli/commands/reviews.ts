import type { Command } from 'commander';
import { REVIEW_STATES, type Review, type ReviewState, thresholdText } from '../../approvals/review.js';
import { ReviewClient } from '../../approvals/review-client.js';
import { GatehouseError } from '../../core/errors.js';

export interface AdminClientOptions {
  readonly gateway?: string;
  readonly token?: string;
}

/** `--gateway URL --token T`, defaulting to $GATEHOUSE_ADMIN_URL and $GATEHOUSE_TOKEN (prefer the environment: argv is visible to other users). */
export function withAdminClientOptions(command: Command): Command {
  return command
    .option('--gateway <url>', 'admin API base URL (default: $GATEHOUSE_ADMIN_URL)')
    .option('--token <token>', 'your own OIDC access token (default: $GATEHOUSE_TOKEN)');
}

export function adminClient(options: AdminClientOptions): ReviewClient {
  const gateway = options.gateway ?? process.env.GATEHOUSE_ADMIN_URL;
  const token = options.token ?? process.env.GATEHOUSE_TOKEN;
  if (!gateway) throw new GatehouseError('request.invalid', 'give --gateway URL or set GATEHOUSE_ADMIN_URL');
  if (!token) throw new GatehouseError('request.invalid', 'give --token or set GATEHOUSE_TOKEN (your own OIDC token)');
  return new ReviewClient({ gateway, token });
}

/** `gatehouse reviews list | show | approve | deny`: approvers' tools over the gateway's admin API. */
export function registerReviewsCommands(program: Command): void {
  const reviews = program.command('reviews').description('list and decide reviews (just-in-time approval)');

  withAdminClientOptions(reviews.command('list').description('list reviews you requested or may decide'))
    .option('--state <state>', `only reviews in this state (${REVIEW_STATES.join(', ')})`, 'pending')
    .option('--json', 'print JSON')
    .action(async (options: AdminClientOptions & { state: string; json?: boolean }) => {
      if (!(REVIEW_STATES as readonly string[]).includes(options.state)) {
        throw new GatehouseError('request.invalid', `--state expects one of ${REVIEW_STATES.join(', ')}`);
      }
      const list = await adminClient(options).list(options.state as ReviewState);
      process.stdout.write(options.json ? `${JSON.stringify(list, null, 2)}\n` : formatReviewList(list));
    });

  withAdminClientOptions(reviews.command('show').description('show one review').argument('<id>', 'review id'))
    .option('--json', 'print JSON')
    .action(async (id: string, options: AdminClientOptions & { json?: boolean }) => {
      const review = await adminClient(options).show(id);
      process.stdout.write(options.json ? `${JSON.stringify(review, null, 2)}\n` : formatReview(review));
    });

  withAdminClientOptions(reviews.command('approve').description('approve a review').argument('<id>', 'review id'))
    .option('--reason <text>', 'why (kept in the audit log)')
    .action(async (id: string, options: AdminClientOptions & { reason?: string }) => {
      const review = await adminClient(options).decide(id, 'approve', options.reason);
      process.stdout.write(`${decidedLine(review)}\n`);
    });

  withAdminClientOptions(reviews.command('deny').description('deny a review').argument('<id>', 'review id'))
    .requiredOption('--reason <text>', 'why (shown to the requester, kept in the audit log)')
    .action(async (id: string, options: AdminClientOptions & { reason: string }) => {
      const review = await adminClient(options).decide(id, 'deny', options.reason);
      process.stdout.write(`${decidedLine(review)}\n`);
    });
}

function approvalsOf(review: Review): string {
  return `${review.decisions.filter((d) => d.verdict === 'approve').length}/${review.approvalsRequired}`;
}

function decidedLine(review: Review): string {
  const more = review.state === 'pending' ? ` (${approvalsOf(review)} approvals; more needed)` : '';
  return `review ${review.id} is ${review.state}${more}`;
}

function clip(text: string, width: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > width ? `${flat.slice(0, width - 1)}…` : flat;
}

function formatReviewList(reviews: readonly Review[]): string {
  if (reviews.length === 0) return 'no reviews\n';
  const rows = reviews.map((r) => [
    r.id,
    r.state,
    r.requester.subject,
    r.operation.resource,
    approvalsOf(r),
    new Date(r.expiresAt).toISOString(),
    clip(r.operation.text, 60),
  ]);
  const head = ['ID', 'STATE', 'REQUESTER', 'RESOURCE', 'APPROVALS', 'EXPIRES', 'OPERATION'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] as string).length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] as number))
      .join('  ')
      .trimEnd();
  return `${[line(head), ...rows.map(line)].join('\n')}\n`;
}

export function formatReview(r: Review): string {
  const lines = [
    `review      ${r.id} (${r.kind})`,
    `state       ${r.state}`,
    `requester   ${r.requester.subject} (${r.requester.issuer}) groups: ${r.requester.groups.join(', ') || '-'}`,
    `session     ${r.requester.sessionId}`,
    `resource    ${r.operation.resource} (${r.operation.protocol}, ${r.operation.kind}${r.operation.tags.length ? `, ${r.operation.tags.join(', ')}` : ''})`,
    `operation   ${r.operation.text}`,
    ...(r.operation.bodyExcerpt === undefined
      ? []
      : [
          `body        ${r.operation.bodyExcerpt}${r.operation.bodyTruncated ? ' …' : ''} (${r.operation.bodyBytes} bytes)`,
        ]),
    ...(r.requestReason === undefined ? [] : [`reason      ${r.requestReason}`]),
    `why         ${r.cause.message}`,
    ...(r.cause.threshold === undefined ? [] : [`threshold   ${thresholdText(r.cause.threshold)}`]),
    `approvers   ${r.approverGroups.join(', ')} (${approvalsOf(r)} approvals)`,
    `created     ${new Date(r.createdAt).toISOString()}`,
    `expires     ${new Date(r.expiresAt).toISOString()}`,
    ...(r.validUntil === undefined ? [] : [`valid until ${new Date(r.validUntil).toISOString()}`]),
    ...r.decisions.map(
      (d) =>
        `decision    ${d.verdict} by ${d.subject} (${d.issuer}) at ${new Date(d.at).toISOString()}${d.reason ? `: ${d.reason}` : ''}`,
    ),
  ];
  return `${lines.join('\n')}\n`;
}
