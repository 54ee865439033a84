import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { signatureHeaders, signPayload } from '../../src/approvals/webhook-signature.js';
import { INBOUND_SECRET, NOTIFY_SECRET, type ReviewGateway, startReviewGateway } from './review-gateway.js';

const run = promisify(execFile);

/** The admin API's answers, as far as these tests read them. */
interface ApiBody {
  error: { code: string; message: string; review?: string };
  review: { id: string; state: string };
  reviews: { id: string }[];
}
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Runs the real CLI (`node bin/gatehouse.js ...`) with a token in the environment. */
async function cli(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['bin/gatehouse.js', ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe('approvers: REST API, CLI and webhooks against a running gateway', () => {
  let g: ReviewGateway;
  let ownerToken: string;
  before(async () => {
    g = await startReviewGateway();
    ownerToken = await g.token('alice', ['data-owners']);
  });
  after(() => g.close());

  const api = async (method: string, path: string, token: string | undefined, body?: unknown) => {
    const response = await fetch(`${g.admin}${path}`, {
      method,
      headers: {
        ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: response.status, body: (await response.json()) as ApiBody };
  };

  it('keeps the operations endpoints working', async () => {
    assert.equal((await fetch(`${g.admin}/healthz`)).status, 200);
    assert.equal((await fetch(`${g.admin}/readyz`)).status, 200);
    assert.match(await (await fetch(`${g.admin}/metrics`)).text(), /gatehouse_requests_total/);
  });

  it('refuses calls without a valid token, without saying why', async () => {
    assert.equal((await api('GET', '/api/reviews', undefined)).status, 401);
    const forged = await g.issuer.sign({ iss: 'https://evil.test', aud: 'x', sub: 'alice', groups: ['data-owners'] });
    const refused = await api('GET', '/api/reviews', forged);
    assert.equal(refused.status, 401);
    assert.equal(refused.body.error.code, 'auth.invalid_token');
    assert.equal(refused.body.error.message, 'the token was not accepted');
  });

  it('a held statement is approved with `gatehouse reviews approve` and runs once', async () => {
    const indexer = g.identity('indexer-job', ['indexers']);
    const { id, outcome } = await g.hold(indexer, 'DELETE FROM documents');
    const listed = await cli(['reviews', 'list', '--gateway', g.admin], { GATEHOUSE_TOKEN: ownerToken });
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, new RegExp(`${id}\\s+pending\\s+indexer-job\\s+vectors\\s+0/1`));
    const shown = await cli(['reviews', 'show', id], { GATEHOUSE_TOKEN: ownerToken, GATEHOUSE_ADMIN_URL: g.admin });
    assert.match(shown.stdout, /operation {3}DELETE FROM documents/);
    const approved = await cli(['reviews', 'approve', id, '--gateway', g.admin, '--reason', 'planned'], {
      GATEHOUSE_TOKEN: ownerToken,
    });
    assert.equal(approved.code, 0, approved.stderr);
    assert.equal(approved.stdout.trim(), `review ${id} is approved`);
    const result = await outcome;
    assert.equal(result.status, 'approved');
    assert.equal((await g.gateway.services.approvals.markExecuted(id)).state, 'executed');
    const again = await cli(['reviews', 'approve', id, '--gateway', g.admin], { GATEHOUSE_TOKEN: ownerToken });
    assert.equal(again.code, 1);
    assert.match(again.stderr, /is already executed/);
  });

  it('the CLI denies with a reason; the requester cannot approve itself', async () => {
    const indexer = g.identity('indexer-job', ['indexers', 'data-owners']);
    const { id, outcome } = await g.hold(indexer, 'DELETE FROM chunks');
    const selfToken = await g.token('indexer-job', ['indexers', 'data-owners']);
    const self = await cli(['reviews', 'approve', id, '--gateway', g.admin], { GATEHOUSE_TOKEN: selfToken });
    assert.equal(self.code, 1);
    assert.match(self.stderr, /requested by you: someone else must decide it/);
    const denied = await cli(['reviews', 'deny', id, '--gateway', g.admin, '--reason', 'wrong table'], {
      GATEHOUSE_TOKEN: ownerToken,
    });
    assert.equal(denied.code, 0, denied.stderr);
    const result = await outcome;
    assert.equal(result.status, 'denied');
    assert.match(result.message, /wrong table/);
  });

  it('answers JSON errors: not an approver, unknown and already decided reviews', async () => {
    const { id, outcome } = await g.hold(g.identity('indexer-job', ['indexers']), 'DELETE FROM t1');
    const readerToken = await g.token('rag-job', ['rag-readers']);
    // Not in an approver group: the review is not even visible.
    assert.equal((await api('GET', `/api/reviews/${id}`, readerToken)).status, 404);
    const notApprover = await api('POST', `/api/reviews/${id}/approve`, readerToken, {});
    assert.equal(notApprover.status, 403);
    assert.equal(notApprover.body.error.review, 'not-approver');
    const unknown = await api('POST', '/api/reviews/rv_ffffffffffffffff/approve', ownerToken, {});
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.review, 'unknown');
    const noReason = await api('POST', `/api/reviews/${id}/deny`, ownerToken, {});
    assert.equal(noReason.status, 400);
    assert.equal((await api('POST', `/api/reviews/${id}/approve`, ownerToken, {})).status, 200);
    assert.equal((await outcome).status, 'approved');
    const twice = await api('POST', `/api/reviews/${id}/deny`, ownerToken, { reason: 'late' });
    assert.equal(twice.status, 409);
    assert.equal(twice.body.error.review, 'already-decided');
  });

  it('refuses decisions on an expired review', async () => {
    const { id, outcome } = await g.hold(g.identity('indexer-job', ['indexers']), 'DELETE FROM t2', { waitMs: 20 });
    assert.equal((await outcome).status, 'expired');
    const late = await api('POST', `/api/reviews/${id}/approve`, ownerToken, {});
    assert.equal(late.status, 409);
    assert.equal(late.body.error.review, 'expired');
  });

  it('`gatehouse access request` opens a window that policy grants once approved', async () => {
    const indexerToken = await g.token('backfill-job', ['indexers']);
    const requested = await cli(
      [
        'access',
        'request',
        '--resource',
        'vectors',
        '--kind',
        'write',
        '--for',
        '30m',
        '--reason',
        'backfill',
        '--json',
      ],
      { GATEHOUSE_TOKEN: indexerToken, GATEHOUSE_ADMIN_URL: g.admin },
    );
    assert.equal(requested.code, 0, requested.stderr);
    const review = JSON.parse(requested.stdout) as { id: string; kind: string; state: string };
    assert.equal(review.kind, 'access');
    const write = {
      protocol: 'postgres' as const,
      resource: 'vectors',
      kind: 'write' as const,
      tags: [],
      action: 'INSERT',
      text: 'INSERT INTO d VALUES (1)',
    };
    const indexer = g.identity('backfill-job', ['indexers']);
    assert.equal(g.gateway.services.policy.decide(write, { identity: indexer }).verdict, 'review');
    assert.equal((await api('POST', `/api/reviews/${review.id}/approve`, ownerToken, {})).status, 200);
    assert.equal(g.gateway.services.policy.decide(write, { identity: indexer }).verdict, 'allow');
    const tooLong = await cli(
      ['access', 'request', '--resource', 'vectors', '--kind', 'write', '--for', '9h', '--reason', 'x'],
      { GATEHOUSE_TOKEN: indexerToken, GATEHOUSE_ADMIN_URL: g.admin },
    );
    assert.equal(tooLong.code, 2, 'a window over the maximum is a usage mistake (exit 2)');
    assert.match(tooLong.stderr, /longest write window on vectors is 120 minutes/);
  });

  it('signs outbound notifications verifiably; the Slack format carries the review id', async () => {
    const { id, outcome } = await g.hold(g.identity('indexer-job', ['indexers']), 'DELETE FROM notified');
    await api('POST', `/api/reviews/${id}/approve`, ownerToken, {});
    await outcome;
    await g.gateway.services.approvals.notifier.drain();
    const signed = g.json.received.map((r) => ({
      ...r,
      payload: JSON.parse(r.body) as { type: string; review: { id: string } },
    }));
    const mine = signed.filter((r) => r.payload.review.id === id);
    assert.deepEqual(
      mine.map((r) => r.payload.type),
      ['review.created', 'review.approved'],
    );
    for (const r of mine) {
      const timestamp = Number(r.headers['x-gatehouse-timestamp']);
      assert.ok(Math.abs(Date.now() / 1000 - timestamp) < 60);
      assert.equal(r.headers['x-gatehouse-signature'], signPayload(NOTIFY_SECRET, timestamp, r.body));
      assert.notEqual(r.headers['x-gatehouse-signature'], signPayload('some-other-secret-123', timestamp, r.body));
    }
    const chat = g.slack.received.map((r) => JSON.parse(r.body) as { text: string }).find((m) => m.text.includes(id));
    assert.ok(chat, 'the Slack-format webhook got the created message');
    assert.match(chat.text, /indexer-job .* asks for `DELETE FROM notified` on vectors/);
    assert.match(chat.text, new RegExp(`gatehouse reviews approve ${id}`));
  });

  it('accepts a signed inbound decision once; refuses replays, forgeries and stale timestamps', async () => {
    const post = (body: string, headers: Record<string, string>) =>
      fetch(`${g.admin}/api/webhooks/decision`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body,
      });
    const { id, outcome } = await g.hold(g.identity('indexer-job', ['indexers']), 'DELETE FROM chatops');
    const body = JSON.stringify({ reviewId: id, decision: 'approve', approver: 'U024BE7LH', reason: 'from chat' });

    const forged = await post(body, signatureHeaders('not-the-inbound-secret', Date.now(), body));
    assert.equal(forged.status, 401);
    assert.equal(((await forged.json()) as ApiBody).error.review, 'bad-signature');
    const stale = await post(body, signatureHeaders(INBOUND_SECRET, Date.now() - 10 * 60_000, body));
    assert.equal(stale.status, 401);
    const tampered = signatureHeaders(INBOUND_SECRET, Date.now(), body);
    const swapped = await post(body.replace('approve', 'deny'), tampered);
    assert.equal(swapped.status, 401);
    assert.equal((await g.gateway.services.approvals.get(id))?.state, 'pending', 'nothing was decided');

    const headers = signatureHeaders(INBOUND_SECRET, Date.now(), body);
    const accepted = await post(body, headers);
    assert.equal(accepted.status, 200);
    const result = await outcome;
    assert.equal(result.status, 'approved');
    assert.deepEqual(
      result.review.decisions.map((d) => [d.issuer, d.subject, d.via]),
      [['chatops', 'U024BE7LH', 'webhook']],
    );
    const replay = await post(body, headers);
    assert.equal(replay.status, 409);
    assert.equal(((await replay.json()) as ApiBody).error.review, 'replayed');
  });

  it('serves the reviews page with a strict Content-Security-Policy and no inline script', async () => {
    const response = await fetch(`${g.admin}/ui/reviews`);
    assert.equal(response.status, 200);
    const csp = response.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    const html = await response.text();
    assert.equal(
      html.match(/<script\b[^>]*>/g)?.every((tag) => /\ssrc=/.test(tag)),
      true,
    );
    assert.doesNotMatch(html, /\son[a-z]+=/i, 'no inline event handlers');
  });
});
