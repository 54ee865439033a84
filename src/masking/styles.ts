import { createHmac, createSecretKey, type KeyObject } from 'node:crypto';
import { GatehouseError } from '../core/errors.js';
import { detachedCopy } from './detached-copy.js';

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
/**
 * Tokens kept per kind of value, in each of two generations (see `TokenCache`): enough for the distinct values of
 * a column read again and again (HMAC costs microseconds a value), bounded at twice this many values per kind.
 */
const TOKEN_CACHE_SIZE = 16_384;

/**
 * Recently computed tokens of one kind, by the value as written (a token depends on the value only, through
 * `normalize`): two generations, so that filling up drops the values not seen for the longest, not all of them.
 * New tokens go into the newer; a value found in the older is moved into the newer; when the newer is full, it
 * becomes the older and the older is dropped.
 */
class TokenCache {
  private newer = new Map<string, string>();
  private older = new Map<string, string>();

  get(value: string): string | undefined {
    const token = this.newer.get(value);
    if (token !== undefined) return token;
    const old = this.older.get(value);
    if (old !== undefined) this.set(value, old);
    return old;
  }

  set(value: string, token: string): void {
    if (this.newer.size >= TOKEN_CACHE_SIZE) {
      this.older = this.newer;
      this.newer = new Map();
    }
    // The value is a slice of the text being masked: kept as it is, it would keep that whole text alive.
    this.newer.set(detachedCopy(value), token);
  }
}

/**
 * Deterministic tokens: HMAC-SHA256 over the type and the normalized value, keyed with the configured secret, so
 * the same value always masks to the same token (joins and counts still work) and nobody without the key can test
 * a guess against a token.
 */
export class Tokenizer {
  private readonly caches = new Map<ValueKind, TokenCache>();
  /**
   * Made once: createHmac with a string key imports it again on every call. node:crypto's HMAC stays, though a
   * hand-written SHA-256 was faster (bench/results/masking.md): it is not worth owning cryptographic code for the
   * first read of a value.
   */
  private readonly key: KeyObject;
  /** The kind asked for last and its cache: a column rule asks for one kind row after row. */
  private lastKind: ValueKind | undefined;
  private lastCache: TokenCache | undefined;

  constructor(key: string) {
    if (key.length < 16)
      throw new GatehouseError('config.invalid', 'the masking token key must be at least 16 characters long');
    this.key = createSecretKey(Buffer.from(key, 'utf8'));
  }

  token(kind: ValueKind, value: string): string {
    let cache = kind === this.lastKind ? this.lastCache : this.caches.get(kind);
    if (cache === undefined) {
      cache = new TokenCache();
      this.caches.set(kind, cache);
    }
    this.lastKind = kind;
    this.lastCache = cache;
    let token = cache.get(value);
    if (token === undefined) {
      const input = `${kind.type}\0${kind.normalize(value)}`;
      const digest = createHmac('sha256', this.key).update(input).digest('hex').slice(0, TOKEN_HEX);
      token = `tok_${kind.type}_${digest}`;
      cache.set(value, token);
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
