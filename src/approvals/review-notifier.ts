import type { Logger } from 'pino';
import type { ApprovalsConfig } from '../config/schema.js';
import type { Clock } from '../core/clock.js';
import { type Review, type ReviewEvent, thresholdText } from './review.js';
import { signatureHeaders } from './webhook-signature.js';

type WebhookConfig = ApprovalsConfig['notifications'][number];

/** The JSON notification body: the event and the review as the REST API shows it. */
export interface ReviewNotification {
  readonly type: `review.${ReviewEvent}`;
  readonly at: number;
  readonly review: Review;
  /** Where an approver can act, when `approvals.publicUrl` is set. */
  readonly url?: string;
}

const ATTEMPTS = 3;

/**
 * Tells webhooks about review events: a signed JSON payload, or a Slack incoming-webhook message. Delivery is in the
 * background with a few retries: a slow or broken receiver never holds up a review or its waiting caller.
 */
export class ReviewNotifier {
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly config: ApprovalsConfig,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  notify(review: Review, event: ReviewEvent): void {
    for (const hook of this.config.notifications) {
      if (!(hook.events as readonly string[]).includes(event)) continue;
      const delivery = this.deliver(hook, review, event).finally(() => this.inFlight.delete(delivery));
      this.inFlight.add(delivery);
    }
  }

  /** Waits for deliveries under way (tests, shutdown). */
  async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  private async deliver(hook: WebhookConfig, review: Review, event: ReviewEvent): Promise<void> {
    const url = this.config.publicUrl === undefined ? undefined : reviewUrl(this.config.publicUrl, review.id);
    const body =
      hook.format === 'slack'
        ? JSON.stringify({ text: slackText(review, event, url) })
        : JSON.stringify({
            type: `review.${event}`,
            at: this.clock.now(),
            review,
            ...(url === undefined ? {} : { url }),
          } satisfies ReviewNotification);
    for (let attempt = 1; attempt <= ATTEMPTS; attempt += 1) {
      try {
        const response = await fetch(hook.url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            ...(hook.secret === undefined ? {} : signatureHeaders(hook.secret, this.clock.now(), body)),
          },
          body,
          signal: AbortSignal.timeout(hook.timeout),
        });
        await response.body?.cancel();
        if (response.ok) return;
        if (response.status < 500 && response.status !== 429) break;
      } catch {
        // Network failure or timeout: retry below.
      }
      if (attempt < ATTEMPTS) await new Promise((resolve) => setTimeout(resolve, 250 * 4 ** (attempt - 1)));
    }
    this.logger.warn({ webhook: hook.name, event, reviewId: review.id }, 'review notification could not be delivered');
  }
}

export function reviewUrl(publicUrl: string, reviewId: string): string {
  return `${publicUrl.replace(/\/+$/, '')}/ui/reviews#${encodeURIComponent(reviewId)}`;
}

function slackText(review: Review, event: ReviewEvent, url: string | undefined): string {
  const who = `${review.requester.subject} (${review.requester.groups.join(', ') || 'no groups'})`;
  const what =
    review.access === undefined
      ? `\`${truncate(review.operation.text, 300)}\` on ${review.operation.resource}`
      : `${review.access.kind} access to ${review.access.resource} for ${Math.round(review.access.durationMs / 60_000)} min`;
  const head =
    event === 'created'
      ? `Review ${review.id}: ${who} asks for ${what}. Approvers: ${review.approverGroups.join(', ')}.`
      : `Review ${review.id} (${what}) was ${event}.`;
  const limit = review.cause.threshold === undefined ? '' : ` Why: ${thresholdText(review.cause.threshold)}.`;
  const action = event === 'created' ? `${limit} Approve with \`gatehouse reviews approve ${review.id}\`` : '';
  return `${head}${action}${url === undefined ? '' : ` ${url}`}`;
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
