import { createHash } from 'node:crypto';
import type { Operation } from '../core/operation.js';
import type { ExactOperation, ReviewedOperation } from './review.js';

function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * The operation fingerprint: sha256 of the canonical JSON of who asked, where, and exactly what. For HTTP the body
 * enters as its sha256, so the fingerprint never holds request content. A re-sent request matches an approval only
 * when every part is identical (method, path, query byte for byte, body).
 */
export function operationFingerprint(
  identity: { readonly issuer: string; readonly subject: string },
  resource: string,
  exact: ExactOperation,
): string {
  const canonical =
    exact.protocol === 'postgres'
      ? ['postgres', exact.sql, exact.parameters ?? null]
      : exact.protocol === 'mcp'
        ? ['mcp', exact.method, exact.target, sha256(exact.arguments)]
        : [
            'http',
            exact.method.toUpperCase(),
            exact.path,
            exact.query,
            exact.body === undefined || exact.body.length === 0 ? null : sha256(exact.body),
          ];
  return sha256(JSON.stringify([identity.issuer, identity.subject, resource, canonical]));
}

/** Fingerprint of an access request: who, where, which kind and for whom, so a repeated request joins the pending one. */
export function accessFingerprint(
  identity: { readonly issuer: string; readonly subject: string },
  resource: string,
  kind: string,
  grantee: string,
): string {
  return sha256(JSON.stringify([identity.issuer, identity.subject, resource, ['access', kind, grantee]]));
}

/**
 * What approvers see of the operation. The body excerpt is bounded and cut on a character boundary, then masked with
 * `mask` when the listener hands one over (src/masking has no plain text-masking function yet, so the approvals
 * module does not pick a profile itself); without it the excerpt is only truncated.
 */
export function reviewedOperation(
  operation: Operation,
  exact: ExactOperation,
  excerptBytes: number,
  mask?: (text: string) => string,
): ReviewedOperation {
  const base = {
    protocol: operation.protocol,
    resource: operation.resource,
    kind: operation.kind,
    tags: operation.tags,
    action: operation.action,
  };
  if (exact.protocol === 'postgres') {
    const parameters =
      exact.parameters === undefined || exact.parameters.length === 0
        ? ''
        : `\n-- parameters: ${JSON.stringify(exact.parameters.map((p) => (p === null ? null : clip(p, 256).text)))}`;
    return { ...base, text: exact.sql + parameters };
  }
  if (exact.protocol === 'mcp') {
    // Arguments are shown like an HTTP body: a bounded excerpt, masked with the resource's profile when handed one.
    const bytes = Buffer.from(exact.arguments, 'utf8');
    const excerpt = clip(bytes.subarray(0, excerptBytes).toString('utf8'), excerptBytes);
    return {
      ...base,
      text: `${exact.method} ${exact.target}`,
      bodyExcerpt: mask === undefined ? excerpt.text : mask(excerpt.text),
      bodySha256: sha256(bytes),
      bodyBytes: bytes.length,
      bodyTruncated: bytes.length > excerptBytes,
    };
  }
  const text = `${exact.method.toUpperCase()} ${exact.path}${exact.query === '' ? '' : `?${exact.query}`}`;
  if (exact.body === undefined || exact.body.length === 0) return { ...base, text };
  const bytes = Buffer.isBuffer(exact.body) ? exact.body : Buffer.from(exact.body, 'utf8');
  const excerpt = clip(bytes.subarray(0, excerptBytes).toString('utf8'), excerptBytes);
  return {
    ...base,
    text,
    bodyExcerpt: mask === undefined ? excerpt.text : mask(excerpt.text),
    bodySha256: sha256(bytes),
    bodyBytes: bytes.length,
    bodyTruncated: bytes.length > excerptBytes,
  };
}

function clip(text: string, max: number): { text: string } {
  // A cut inside a multi-byte character decodes to U+FFFD at the end: drop it rather than show a broken glyph.
  const cut = text.length > max ? text.slice(0, max) : text;
  return { text: cut.replace(/\uFFFD$/, '') };
}
