import { createHmac, createSecretKey, type KeyObject } from 'node:crypto';
import { GatehouseError } from '../core/errors.js';

import type { MaskStyle } from './names.js';

export type { MaskStyle };

/** What a style needs to know about the kind of value. */
export interface ValueKind {
  readonly type: string;
  readonly label: string;
  partial(value: string): string;
  normalize(value: string): string;
}

/** Hex digits of the HMAC kept in a token: 64 bits, so collisions in one data set are vanishingly rare. */
const TOKEN_HEX = 16;
/** Tokens recently computed, so repeated values (a column of the same domain) are not hashed again. */
const TOKEN_CACHE_SIZE = 4096;

/**
 * Deterministic tokens: HMAC-SHA256 over the type and the normalized value, keyed with the configured secret, so
 * the same value always masks to the same token (joins and counts still work) and nobody without the key can test
 * a guess against a token.
 */
export class Tokenizer {
  private readonly cache = new Map<string, string>();
  /** Made once: createHmac with a string key imports it again on every call. */
  private readonly key: KeyObject;

  constructor(key: string) {
    if (key.length < 16)
      throw new GatehouseError('config.invalid', 'the masking token key must be at least 16 characters long');
    this.key = createSecretKey(Buffer.from(key, 'utf8'));
  }

  token(kind: ValueKind, value: string): string {
    const input = `${kind.type}\0${kind.normalize(value)}`;
    let token = this.cache.get(input);
    if (token === undefined) {
      const digest = createHmac('sha256', this.key).update(input).digest('hex').slice(0, TOKEN_HEX);
      token = `tok_${kind.type}_${digest}`;
      if (this.cache.size >= TOKEN_CACHE_SIZE) this.cache.clear();
      this.cache.set(input, token);
    }
    return token;
  }
}

/** Renders one value in a style. `tokenizer` is required for `tokenize` (config validation guarantees it). */
export function renderMasked(style: MaskStyle, kind: ValueKind, value: string, tokenizer?: Tokenizer): string {
  switch (style) {
    case 'redact':
      return kind.label;
    case 'partial':
      return kind.partial(value);
    case 'tokenize':
      if (tokenizer === undefined) throw new GatehouseError('config.invalid', 'tokenize needs masking.tokenKey');
      return tokenizer.token(kind, value);
  }
}
