import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HttpClassifier, readInferenceModel } from '../../../src/protocols/http/classify.js';
import { compilePathPattern } from '../../../src/protocols/http/path-pattern.js';
import { parseRequestPath } from '../../../src/protocols/http/request-path.js';

const classifier = new HttpClassifier('vectors', [
  { method: 'POST', path: '/collections/*/points/search', kind: 'read', inference: false },
  { method: '*', path: '/admin/**', kind: 'admin', inference: false },
]);
const classify = (method: string, path: string) => {
  const parsed = parseRequestPath(path);
  assert.ok(parsed, `path ${path} parses`);
  return classifier.classify({ method, segments: parsed.segments });
};

describe('HTTP classification', () => {
  it('uses the method by default and refuses unknown verbs', () => {
    assert.equal(classify('GET', '/collections/docs').kind, 'read');
    assert.equal(classify('PUT', '/collections/docs/points').kind, 'write');
    assert.equal(classify('DELETE', '/collections/docs').kind, 'write');
    assert.equal(classify('TRACE', '/').kind, 'unknown');
    assert.equal(classify('PROPFIND', '/').kind, 'unknown');
  });

  it('applies overrides with wildcards, and inference routes as reads that carry a model', () => {
    assert.equal(classify('POST', '/collections/docs/points/search').kind, 'read');
    assert.equal(classify('POST', '/admin/snapshots/create').kind, 'admin');
    const chat = classify('POST', '/v1/chat/completions');
    assert.deepEqual([chat.kind, chat.inference, chat.call?.operation], ['read', true, 'chat.completions']);
    const embeddings = classify('POST', '/v1/embeddings');
    assert.deepEqual([embeddings.kind, embeddings.inference], ['read', true]);
    // A resource without a profile still reads Anthropic's messages route as a metered inference call.
    const messages = classifier.classify(
      { method: 'POST', segments: ['v1', 'messages'] },
      Buffer.from('{"model":"claude-x","max_tokens":50,"messages":[]}'),
    );
    assert.deepEqual([messages.kind, messages.call?.model, messages.call?.maxOutputTokens], ['read', 'claude-x', 50]);
  });

  it('lets a configured override win over the profile’s kind, keeping what the profile read from the body', () => {
    const qdrant = new HttpClassifier(
      'vectors',
      [{ method: 'POST', path: '/collections/*/points/scroll', kind: 'admin', inference: false }],
      { profile: 'qdrant', target: 'http://qdrant.internal:6333' },
    );
    const scroll = qdrant.classify(
      { method: 'POST', segments: ['collections', 'docs', 'points', 'scroll'] },
      Buffer.from('{"limit":1}'),
    );
    assert.deepEqual([scroll.kind, scroll.call?.collection, scroll.call?.tenantScope], ['admin', 'docs', 'filter']);
    const search = qdrant.classify(
      { method: 'POST', segments: ['collections', 'docs', 'points', 'search'] },
      Buffer.from('{"vector":[1]}'),
    );
    assert.equal(search.kind, 'read', 'no override: the profile decides');
    assert.equal(qdrant.classify({ method: 'TRACE', segments: ['collections', 'docs'] }).kind, 'unknown');
    // An `inference` override on a route no profile knows reads the model from the body.
    const custom = new HttpClassifier('llm', [{ method: 'POST', path: '/generate', kind: 'read', inference: true }]);
    assert.equal(custom.needsBody({ method: 'POST', segments: ['generate'] }), true);
    const generated = custom.classify({ method: 'POST', segments: ['generate'] }, Buffer.from('{"model":"m-1"}'));
    assert.deepEqual([generated.kind, generated.call?.model], ['read', 'm-1']);
  });

  it('sees through percent-encoding, so an encoded path cannot dodge an override', () => {
    assert.equal(classify('POST', '/%61dmin/x').kind, 'admin');
    assert.equal(classify('POST', '/v1/chat/%63ompletions').inference, true);
  });

  it('refuses paths with dot segments, encoded slashes, empty segments or bad escapes', () => {
    for (const path of ['/llm/../admin', '/llm/%2e%2e/admin', '/llm/a%2Fb', '/llm//x', '/llm/%zz', 'llm', '/a\\b']) {
      assert.equal(parseRequestPath(path), undefined, path);
    }
    assert.deepEqual(parseRequestPath('/llm/v1/models?x=1')?.segments, ['llm', 'v1', 'models']);
    assert.equal(parseRequestPath('/llm/v1/models?x=1')?.query, '?x=1');
  });

  it('matches patterns segment by segment', () => {
    assert.equal(compilePathPattern('/a/*/c')(['a', 'b', 'c']), true);
    assert.equal(compilePathPattern('/a/*/c')(['a', 'b', 'c', 'd']), false);
    assert.equal(compilePathPattern('/a/**')(['a']), true);
    assert.equal(compilePathPattern('/a/**')(['b']), false);
  });

  it('reads the model from inference bodies and flags bodies that are not JSON objects', () => {
    assert.deepEqual(readInferenceModel(Buffer.from('{"model":"gpt-4o-mini","messages":[]}')), {
      model: 'gpt-4o-mini',
    });
    assert.deepEqual(readInferenceModel(Buffer.from('')), {});
    assert.ok(readInferenceModel(Buffer.from('{"model":')).unclassifiable);
    assert.ok(readInferenceModel(Buffer.from('[1]')).unclassifiable);
    assert.ok(readInferenceModel(Buffer.from('{"model":42}')).unclassifiable);
  });
});
