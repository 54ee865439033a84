import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ConfigError, parseConfig } from '../../src/config/load.js';
import { MaskCounts } from '../../src/masking/counts.js';
import { detectorTable } from '../../src/masking/detectors/index.js';
import { maskInferenceRequest } from '../../src/masking/inference-request.js';
import { JsonMasker } from '../../src/masking/json-masker.js';
import { type MaskingPlan, resolveMasking } from '../../src/masking/profile.js';
import type { Redactor } from '../../src/masking/redactor.js';
import { SseMasker } from '../../src/masking/sse-masker.js';
import { StreamMasker } from '../../src/masking/stream-masker.js';
import { Tokenizer } from '../../src/masking/styles.js';

function plan(config: Partial<Parameters<typeof resolveMasking>[0] & object> = {}, groups: string[] = []): MaskingPlan {
  const resolution = resolveMasking({ requests: true, exempt: [], groups: [], ...config }, groups);
  assert.equal(resolution.mode, 'mask');
  return (resolution as { plan: MaskingPlan }).plan;
}
const redactor = plan().redactor as Redactor;

const TEXT = `Contact mary.jones@example.com or +44 20 7946 0958, (415) 555-2671. Card 4242 4242 4242 4242.
SSN 219-09-9998, IBAN GB82 WEST 1234 5698 7654 32, hosts 10.0.0.12 and 2001:db8::8a2e:370:7334.
keys AKIAIOSFODNN7EXAMPLE ghp_abcdefghijklmnopqrstuvwxyz0123456789 and password = hunter2x
-----BEGIN PRIVATE KEY-----
MIIEvQIBADANBgkqhkiG9w0BAQEFAASC
-----END PRIVATE KEY-----
eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U done`;

function streamed(text: string, size: number, make: () => { push(c: string): string; end(): string }): string {
  const masker = make();
  let out = '';
  for (let i = 0; i < text.length; i += size) out += masker.push(text.slice(i, i + size));
  return out + masker.end();
}

describe('StreamMasker', () => {
  const whole = redactor.mask(TEXT, new MaskCounts());

  it('masks every kind in the sample', () => {
    assert.equal(
      whole,
      `Contact [EMAIL] or [PHONE], [PHONE]. Card [CARD].
SSN [SSN], IBAN [IBAN], hosts [IPV4] and [IPV6].
keys [SECRET] [SECRET] and password = [SECRET]
[SECRET]
[SECRET] done`,
    );
  });

  it('catches values split across chunks at every size from 1 to 40 characters', () => {
    for (let size = 1; size <= 40; size++)
      assert.equal(
        streamed(TEXT, size, () => new StreamMasker(redactor, new MaskCounts())),
        whole,
        `size ${size}`,
      );
  });

  it('holds back only the tail that could begin a value', () => {
    const masker = new StreamMasker(redactor, new MaskCounts());
    assert.equal(masker.push('the order shipped to mary.jo'), 'the order shipped to ');
    assert.equal(masker.held, 'mary.jo'.length);
    assert.equal(masker.push('nes@example.com today. '), '[EMAIL] today. ');
    assert.equal(masker.push('card 4242 4242'), 'card ');
    assert.equal(masker.push(' 4242 4242 ok'), '[CARD] ');
    assert.equal(masker.end(), 'ok');
  });

  it('counts what it masked by type', () => {
    const counts = new MaskCounts();
    streamed(TEXT, 7, () => new StreamMasker(redactor, counts));
    assert.deepEqual(counts.toRecord(), { email: 1, phone: 2, card: 1, ssn: 1, iban: 1, ipv4: 1, ipv6: 1, secret: 5 });
  });
});

describe('JsonMasker', () => {
  const doc = JSON.stringify({
    user: { email: 'mary.jones@example.com', tags: ['call +1 415 555 2671', 'vip'] },
    note: 'escaped \u00e9 "quote" \\ back\nslash mary.jones@example.com',
    n: 4242424242424242,
    ok: true,
    nothing: null,
  }).replace('"mary.jones@example.com"', '"mary.jones\\u0040example.com"');

  it('masks every string value, nested, whatever the chunking, and leaves the rest of the JSON alone', () => {
    const expected = JSON.stringify({
      user: { email: '[EMAIL]', tags: ['call [PHONE]', 'vip'] },
      note: 'escaped \u00e9 "quote" \\ back\nslash [EMAIL]',
      n: 4242424242424242,
      ok: true,
      nothing: null,
    });
    for (const size of [1, 2, 3, 5, 8, 13, 1000]) {
      const out = streamed(doc, size, () => new JsonMasker(redactor, new MaskCounts()));
      assert.deepEqual(JSON.parse(out), JSON.parse(expected), `size ${size}`);
    }
  });

  it('keeps strings without findings byte-identical', () => {
    const raw = '{"a":"caf\\u00e9 \\/ ok","b":[1,2]}';
    assert.equal(
      streamed(raw, 4, () => new JsonMasker(redactor, new MaskCounts())),
      raw,
    );
  });

  it('masks a body that is not JSON as plain text', () => {
    const out = streamed(
      '<html>write to mary.jones@example.com</html>',
      5,
      () => new JsonMasker(redactor, new MaskCounts()),
    );
    assert.equal(out, '<html>write to [EMAIL]</html>');
  });
});

describe('SseMasker', () => {
  const event = (content: string, finish: string | null = null) =>
    `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content }, finish_reason: finish }] })}\n\n`;

  it('masks chat deltas across events and re-emits well-formed events', () => {
    const pieces = ['Mail mary', '.jones@ex', 'ample.com', ' or call ', '+1 415 55', '5 2671 now'];
    const stream = `${pieces.map((p) => event(p)).join('')}${event('', 'stop')}data: [DONE]\n\n`;
    for (const size of [1, 7, 64, 10_000]) {
      const out = streamed(stream, size, () => new SseMasker(redactor, new MaskCounts()));
      const datas = out
        .split('\n\n')
        .filter(Boolean)
        .map((block) => block.replace(/^data: /, ''));
      assert.equal(datas.at(-1), '[DONE]');
      const text = datas
        .slice(0, -1)
        .map((d) => (JSON.parse(d) as { choices: { delta: { content?: string } }[] }).choices[0]?.delta.content ?? '')
        .join('');
      assert.equal(text, 'Mail [EMAIL] or call [PHONE] now', `size ${size}`);
      assert.equal(datas.length, pieces.length + 2, 'one event out per event in');
    }
  });

  it('releases held text before [DONE] when no finish_reason came', () => {
    const out = streamed(
      `${event('write to bob@exa')}${event('mple.com')}data: [DONE]\n\n`,
      3,
      () => new SseMasker(redactor, new MaskCounts()),
    );
    assert.ok(out.includes('[EMAIL]') && !out.includes('bob@'));
    assert.ok(out.trimEnd().endsWith('data: [DONE]'));
  });

  it('joins Anthropic Messages text and tool-input deltas per content block', () => {
    const sse = (type: string, data: object) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
    const text = (index: number, piece: string) =>
      sse('content_block_delta', { index, delta: { type: 'text_delta', text: piece } });
    const input = (index: number, piece: string) =>
      sse('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: piece } });
    const stream = [
      sse('message_start', { message: { id: 'msg_1', role: 'assistant', content: [] } }),
      sse('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
      ...['Write to jane.', 'doe@exa', 'mple.com soon'].map((p) => text(0, p)),
      sse('content_block_stop', { index: 0 }),
      sse('content_block_start', { index: 1, content_block: { type: 'tool_use', id: 't1', name: 'mail', input: {} } }),
      ...['{"to": "jane', '.doe@example', '.com", "ph', 'one": "+1 415', ' 555 2671"}'].map((p) => input(1, p)),
      sse('content_block_stop', { index: 1 }),
      sse('message_delta', { delta: { stop_reason: 'tool_use' }, usage: { output_tokens: 9 } }),
      sse('message_stop', {}),
    ].join('');
    for (const size of [1, 13, 10_000]) {
      const out = streamed(stream, size, () => new SseMasker(redactor, new MaskCounts()));
      assert.doesNotMatch(out, /jane|example|415/, `size ${size}`);
      const events = out
        .split('\n\n')
        .filter(Boolean)
        .map((block) => JSON.parse(block.slice(block.indexOf('data: ') + 6)));
      const joined = (index: number, field: string) =>
        events
          .filter((e) => e.type === 'content_block_delta' && e.index === index)
          .map((e) => e.delta[field])
          .join('');
      assert.equal(joined(0, 'text'), 'Write to [EMAIL] soon');
      assert.deepEqual(JSON.parse(joined(1, 'partial_json')), { to: '[EMAIL]', phone: '[PHONE]' });
      const stops = events.map((e) => e.type).filter((t) => t === 'content_block_stop').length;
      assert.equal(stops, 2);
    }
  });

  it('masks events whose data is not JSON as text', () => {
    const out = streamed(
      'event: note\ndata: mail bob@example.com\n\n',
      4,
      () => new SseMasker(redactor, new MaskCounts()),
    );
    assert.equal(out, 'event: note\ndata: mail [EMAIL]\n\n');
  });
});

describe('styles, profiles and config', () => {
  const key = 'unit-test-token-key-0123456789';

  it('partial and tokenize styles; the same value always gets the same token', () => {
    const partial = plan({ style: 'partial' }).redactor as Redactor;
    assert.equal(
      partial.mask('mary@example.com 4242 4242 4242 4242 219-09-9998 GB82WEST12345698765432', new MaskCounts()),
      'm***@example.com ****4242 ***-**-9998 GB82****5432',
    );
    const tokens = plan({ style: 'tokenize', tokenKey: key }).redactor as Redactor;
    const a = tokens.mask('Mary@Example.com', new MaskCounts());
    assert.match(a, /^tok_email_[0-9a-f]{16}$/);
    assert.equal(tokens.mask('mary@example.com', new MaskCounts()), a, 'emails are normalised before hashing');
    const other = plan({ style: 'tokenize', tokenKey: `${key}-other` }).redactor as Redactor;
    assert.notEqual(other.mask('mary@example.com', new MaskCounts()), a, 'the key changes every token');
  });

  it('tokens from the cache are the tokens computed afresh, through generations of it', () => {
    const kinds = detectorTable();
    const tokenizer = new Tokenizer(key);
    const hmac = (type: string, normalized: string) =>
      `tok_${type}_${createHmac('sha256', key).update(`${type}\0${normalized}`).digest('hex').slice(0, 16)}`;
    // More distinct values than two generations hold, each asked for again after others: hits in the newer and the
    // older generation, and misses of values dropped.
    for (let round = 0; round < 3; round++)
      for (let i = 0; i < 36_000; i += round + 1) {
        const value = `User${i}@Example.com`;
        assert.equal(tokenizer.token(kinds.email, value), hmac('email', value.toLowerCase()), value);
        if (i % 5 !== 0) continue;
        const card = `4242 4242 4242 ${String(i % 9_000).padStart(4, '0')}`;
        assert.equal(tokenizer.token(kinds.card, card), hmac('card', card.replace(/ /g, '')), card);
      }
  });

  it('the phone and token caches keep no text their values were cut from', () => {
    // A value found in a text is a slice of it, and V8 keeps a slice's whole parent alive: a cache keyed by the
    // slice would hold every masked text (unmasked personal data among it) for as long as the entry lives.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const filler = 'lorem ipsum dolor sit amet '.repeat(4_000);
    const texts = 150;
    const retained = (mask: (text: string) => string, value: (i: number) => string): number => {
      gc();
      const before = process.memoryUsage().heapUsed;
      for (let i = 0; i < texts; i++) {
        const written = value(i);
        const masked = mask([filler, ` call ${written} now `, filler].join(''));
        assert.ok(!masked.includes(written), written);
      }
      gc();
      return process.memoryUsage().heapUsed - before;
    };
    // 150 texts of about 220 KB each: about 32 MB if each stayed alive. Each value comes twice, in two texts: the
    // second finds it in the cache, and must not store it anew as the slice of the second text.
    const whole = texts * filler.length * 2;
    const twice = texts / 2;
    const phones = retained(
      (text) => redactor.mask(text, new MaskCounts()),
      (i) => `(415) 555-${1000 + (i % twice)}`,
    );
    assert.ok(phones < whole / 8, `the phone cache kept ${phones} bytes`);
    const tokens = plan({ style: 'tokenize', tokenKey: key }).redactor as Redactor;
    const emails = retained(
      (text) => tokens.mask(text, new MaskCounts()),
      (i) => `someone.${i % twice}@example.com`,
    );
    assert.ok(emails < whole / 8, `the token cache kept ${emails} bytes`);
  });

  it('group overrides, exemptions and detector choice', () => {
    const config = {
      detectors: ['email' as const],
      exempt: ['auditors'],
      groups: [{ groups: ['support'], detectors: ['phone' as const], style: 'partial' as const }],
    };
    const base = plan(config).redactor as Redactor;
    assert.equal(base.mask('a@example.com +1 415 555 2671', new MaskCounts()), '[EMAIL] +1 415 555 2671');
    const support = plan(config, ['support']).redactor as Redactor;
    assert.equal(support.mask('a@example.com +1 415 555 2671', new MaskCounts()), 'a@example.com ****2671');
    assert.deepEqual(resolveMasking({ requests: true, ...config }, ['support', 'auditors']), {
      mode: 'exempt',
      group: 'auditors',
    });
    assert.deepEqual(resolveMasking(undefined, []), { mode: 'none' });
  });

  it('config: tokenize needs a key; resources inherit the top-level key', () => {
    const yaml = (top: string) => `
identity: { devIssuer: { enabled: true } }
${top}
resources:
  - name: db
    protocol: postgres
    target: { host: localhost, database: app, user: app }
    masking:
      columns: [{ column: users.email, style: tokenize, type: email }]
`;
    assert.throws(
      () => parseConfig(yaml(''), '/tmp/g.yaml', {}),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.match(error.message, /tokenize needs a key/);
        return true;
      },
    );
    const { config } = parseConfig(yaml(`masking: { tokenKey: '${key}', phoneRegions: [US, GB] }`), '/tmp/g.yaml', {});
    const resource = config.resources[0];
    assert.equal(resource?.masking?.tokenKey, key);
    assert.deepEqual(resource?.masking?.phoneRegions, ['US', 'GB']);
    assert.throws(() => parseConfig(yaml('masking: { tokenKey: short }'), '/tmp/g.yaml', {}), ConfigError);
  });

  it('inference requests: message contents masked, model and roles untouched', () => {
    const counts = new MaskCounts();
    const body = Buffer.from(
      JSON.stringify({
        model: 'gpt-4o-mini',
        messages: [
          { role: 'system', content: 'be brief' },
          { role: 'user', content: [{ type: 'text', text: 'I am mary@example.com, card 4242424242424242' }] },
        ],
        temperature: 0,
      }),
    );
    const masked = JSON.parse(maskInferenceRequest(body, redactor, counts).toString()) as Record<string, unknown>;
    assert.deepEqual(masked, {
      model: 'gpt-4o-mini',
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: [{ type: 'text', text: 'I am [EMAIL], card [CARD]' }] },
      ],
      temperature: 0,
    });
    assert.deepEqual(counts.toRecord(), { email: 1, card: 1 });
    const clean = Buffer.from('{"model":"m","messages":[{"role":"user","content":"hi"}]}');
    assert.equal(maskInferenceRequest(clean, redactor, new MaskCounts()), clean, 'unchanged bodies keep their bytes');
  });
});

describe('MaskCounts', () => {
  it('counts per type in the order first seen, merges, and gives any type name as an own property', () => {
    const counts = new MaskCounts();
    assert.ok(counts.empty);
    counts.add('email');
    counts.add('__proto__', 2);
    counts.add('email', 3);
    const other = new MaskCounts();
    other.add('card');
    other.add('email');
    counts.merge(other);
    const record = counts.toRecord();
    assert.equal(JSON.stringify(record), '{"email":5,"__proto__":2,"card":1}');
    assert.equal(Object.getPrototypeOf(record), Object.prototype);
    assert.ok(!counts.empty);
  });
});
