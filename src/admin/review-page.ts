/**
 * The approvers' web page: plain HTML, one script and one stylesheet served from the admin listener, no build step.
 * The script is a separate file so the Content-Security-Policy can forbid every inline script and style. The token
 * stays in this tab's sessionStorage and is sent as a Bearer header: no cookies, so no cross-site request can act.
 */
export const PAGE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Gatehouse reviews</title>
<link rel="stylesheet" href="/ui/reviews.css">
<script src="/ui/reviews.js" defer></script>
</head>
<body>
<header><h1>Gatehouse: pending reviews</h1></header>
<section id="login">
  <label for="token">Your OIDC access token</label>
  <input id="token" type="password" autocomplete="off" spellcheck="false" placeholder="eyJ...">
  <button id="use-token" type="button">Use token</button>
  <button id="forget-token" type="button">Forget token</button>
</section>
<p id="status" role="status" aria-live="polite"></p>
<table id="reviews" hidden>
  <thead><tr><th>Review</th><th>Requested by</th><th>Resource</th><th>Operation</th><th>Why</th><th>Approvals</th><th>Expires</th><th>Decision</th></tr></thead>
  <tbody></tbody>
</table>
<p id="empty" hidden>No pending reviews you can decide.</p>
</body>
</html>
`;

export const PAGE_CSS = `body{font:14px/1.4 system-ui,sans-serif;margin:1.5rem;color:#1b1b1b}
h1{font-size:1.3rem}
#login{display:flex;gap:.5rem;align-items:center;flex-wrap:wrap;margin-bottom:1rem}
#token{width:28rem;max-width:100%;font-family:monospace}
table{border-collapse:collapse;width:100%}
th,td{border:1px solid #ccc;padding:.4rem;text-align:left;vertical-align:top}
th{background:#f2f2f2}
pre{margin:0;white-space:pre-wrap;word-break:break-word;max-width:32rem;font-size:12px}
td.actions{white-space:nowrap}
td.actions input{width:10rem}
button.approve{background:#1f7a1f;color:#fff;border:0;padding:.3rem .7rem;border-radius:3px;cursor:pointer}
button.deny{background:#a11;color:#fff;border:0;padding:.3rem .7rem;border-radius:3px;cursor:pointer}
#status{min-height:1.4em;font-weight:600}
#status.error{color:#a11}
`;

export const PAGE_JS = `'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  const status = (text, error) => { $('status').textContent = text; $('status').className = error ? 'error' : ''; };
  let token = sessionStorage.getItem('gatehouse-token') || '';

  async function api(method, path, body) {
    const headers = { authorization: 'Bearer ' + token };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const data = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error((data.error && data.error.message) || ('HTTP ' + res.status));
    return data;
  }

  function cell(row, text, pre) {
    const td = document.createElement('td');
    if (pre) { const p = document.createElement('pre'); p.textContent = text; td.appendChild(p); }
    else td.textContent = text;
    row.appendChild(td);
    return td;
  }

  function render(reviews) {
    const body = $('reviews').querySelector('tbody');
    body.replaceChildren();
    for (const r of reviews) {
      const row = document.createElement('tr');
      row.dataset.reviewId = r.id;
      cell(row, r.id);
      cell(row, r.requester.subject + ' [' + r.requester.groups.join(', ') + ']');
      cell(row, r.operation.resource);
      let text = r.operation.text;
      if (r.operation.bodyExcerpt) text += '\\n\\n' + r.operation.bodyExcerpt + (r.operation.bodyTruncated ? ' …' : '');
      if (r.requestReason) text += '\\n\\nReason: ' + r.requestReason;
      cell(row, text, true);
      const limit = r.cause.threshold;
      cell(row, r.cause.ruleId + ' (' + r.cause.selector + ')' + (limit ? '\\n' + limit.figure + ' ' + (limit.value === null ? 'unbounded' : limit.value) + ' over ' + limit.limitName + ' ' + (limit.limit === null ? 'no limit' : limit.limit) : ''), Boolean(limit));
      const approvals = r.decisions.filter((d) => d.verdict === 'approve').length;
      cell(row, approvals + ' of ' + r.approvalsRequired);
      cell(row, new Date(r.expiresAt).toLocaleString());
      const actions = cell(row, '');
      actions.className = 'actions';
      const reason = document.createElement('input');
      reason.placeholder = 'reason';
      reason.setAttribute('aria-label', 'reason for ' + r.id);
      const approve = document.createElement('button');
      approve.type = 'button'; approve.className = 'approve'; approve.textContent = 'Approve';
      approve.addEventListener('click', () => decide(r.id, 'approve', reason.value));
      const deny = document.createElement('button');
      deny.type = 'button'; deny.className = 'deny'; deny.textContent = 'Deny';
      deny.addEventListener('click', () => decide(r.id, 'deny', reason.value));
      actions.append(reason, ' ', approve, ' ', deny);
      body.appendChild(row);
    }
    $('reviews').hidden = reviews.length === 0;
    $('empty').hidden = reviews.length !== 0;
  }

  async function load() {
    if (!token) { status('Enter your token to see the reviews you can decide.'); return; }
    try {
      const data = await api('GET', '/api/reviews?state=pending');
      render(data.reviews);
      if (!$('status').dataset.keep) status(data.reviews.length + ' pending review(s)');
    } catch (e) { status(e.message, true); }
  }

  async function decide(id, verdict, reason) {
    if (verdict === 'deny' && !reason) { status('A denial needs a reason.', true); return; }
    try {
      const data = await api('POST', '/api/reviews/' + encodeURIComponent(id) + '/' + verdict, reason ? { reason } : {});
      status('Review ' + id + ' is now ' + data.review.state + '.');
      $('status').dataset.keep = '1';
      await load();
      delete $('status').dataset.keep;
    } catch (e) { status(e.message, true); }
  }

  $('use-token').addEventListener('click', () => {
    token = $('token').value.trim();
    $('token').value = '';
    sessionStorage.setItem('gatehouse-token', token);
    load();
  });
  $('forget-token').addEventListener('click', () => {
    token = ''; sessionStorage.removeItem('gatehouse-token'); render([]); $('empty').hidden = true;
    status('Token forgotten.');
  });
  load();
  setInterval(load, 10000);
})();
`;
