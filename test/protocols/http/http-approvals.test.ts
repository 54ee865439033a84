import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Gateway } from '../../../src/gateway/gateway.js';
import { OpenAiStandIn } from '../../../src/standins/openai-stand-in.js';
import { startHttpGateway } from '../../support/http-gateway.js';
import { type LocalIssuer, startLocalIssuer } from '../../support/local-issuer.js';

const AUDIENCE = 'https://gatehouse.test';
const UPSTREAM_KEY = 'sk-upstream-approvals';

describe('HTTP just-in-time approval, end to end', () => {
  let issuer: LocalIssuer;
  let standIn: OpenAiStandIn;
  let gateway: Gateway;
  let base: string;
  let admin: string;

  const token = (sub: string, groups: string[]) => {
    const now = Math.floor(Date.now() / 1000);
    return issuer.sign({ iss: issuer.issuer, aud: AUDIENCE, sub, groups, iat: now, exp: now + 300 });
  };

  before(async () => {
    issuer = await startLocalIssuer();
    standIn = new OpenAiStandIn({ apiKey: UPSTREAM_KEY });
    const upstream = await standIn.start();
    const started = await startHttpGateway({
      dirPrefix: 'gh-http-approvals-',
      issuers: [{ issuer: issuer.issuer, audience: AUDIENCE, jwksUri: issuer.jwksUri, algorithms: ['ES256'] }],
      admin: true,
      yaml: `
approvals: { httpWait: 1500ms, pollInterval: 200ms }
resources:
  - name: llm
    protocol: http
    pathPrefix: /llm
    target: ${upstream}
    credential: { value: "Bearer ${UPSTREAM_KEY}" }
    policy:
      - groups: [indexers]
        allow: [read]
        review: [write]
        approvers: [data-owners]
`,
    });
    gateway = started.gateway;
    base = `${started.base}/llm`;
    admin = started.admin;
  });

  after(async () => {
    await gateway?.stop();
    await standIn?.stop();
    await issuer?.close();
  });

  const write = async (bearer: string, body: string) =>
    fetch(`${base}/v1/files`, { method: 'POST', headers: { authorization: `Bearer ${bearer}` }, body });
  const decide = async (id: string, bearer: string, action: 'approve' | 'deny', reason = 'checked') =>
    fetch(`${admin}/api/reviews/${id}/${action}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
      body: JSON.stringify({ reason }),
    });
  /** The pending review a held request created, as an approver lists it (polled: the request is in flight). */
  const pendingReviewOf = async (subject: string, approver: string): Promise<string> => {
    for (let i = 0; i < 100; i++) {
      const list = await fetch(`${admin}/api/reviews?state=pending`, {
        headers: { authorization: `Bearer ${approver}` },
      });
      const { reviews } = (await list.json()) as { reviews: { id: string; requester: { subject: string } }[] };
      const id = reviews.find((r) => r.requester.subject === subject)?.id;
      if (id !== undefined) return id;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    throw new Error(`no pending review for ${subject}`);
  };
  const filesSeen = () => standIn.seen.filter((r) => r.path === '/v1/files').length;

  it('holds a write, answers 202 with the review id, and runs the same request once after approval', async () => {
    const requester = await token('indexer-job', ['indexers']);
    const approver = await token('alice', ['data-owners']);
    const before = filesSeen();
    const held = await write(requester, 'payload-1');
    assert.equal(held.status, 202);
    const { review } = (await held.json()) as { review: { id: string; state: string } };
    assert.equal(review.state, 'pending');
    assert.equal(filesSeen(), before, 'nothing ran while pending');

    assert.equal((await decide(review.id, requester, 'approve')).status, 403, 'the requester cannot approve');
    assert.equal((await decide(review.id, approver, 'approve')).status, 200);
    const run = await write(requester, 'payload-1');
    assert.equal(run.status, 400, 'the stand-in answered (it cannot parse the body): the request reached it');
    assert.equal(filesSeen(), before + 1);
    // The approval is spent: the same request again opens a new review instead of running.
    const again = await write(requester, 'payload-1');
    assert.equal(again.status, 202);
    assert.equal(filesSeen(), before + 1);
  });

  it('runs a held request as soon as an approver approves it', async () => {
    const requester = await token('indexer-job-2', ['indexers']);
    const approver = await token('bob', ['data-owners']);
    const before = filesSeen();
    const pending = write(requester, 'payload-2');
    const id = await pendingReviewOf('indexer-job-2', approver);
    assert.equal((await decide(id, approver, 'approve')).status, 200);
    assert.equal((await pending).status, 400, 'the held request went through to the upstream');
    assert.equal(filesSeen(), before + 1);
  });

  it('refuses a request denied while held with 403 and never runs it', async () => {
    const requester = await token('indexer-job-3', ['indexers']);
    const approver = await token('carol', ['data-owners']);
    const before = filesSeen();
    const pending = write(requester, 'payload-3');
    const id = await pendingReviewOf('indexer-job-3', approver);
    assert.equal((await decide(id, approver, 'deny', 'not today')).status, 200);
    const refused = await pending;
    assert.equal(refused.status, 403);
    const body = (await refused.json()) as { error: { code: string; message: string; reviewId: string } };
    assert.equal(body.error.code, 'policy.review_required');
    assert.equal(body.error.reviewId, id);
    assert.match(body.error.message, /not today/);
    assert.equal(filesSeen(), before);
  });
});
