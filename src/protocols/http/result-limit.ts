/**
 * `maxResultBytes` on HTTP: a response whose declared length is over the limit is refused before anything is sent;
 * one that streams past it is cut at the limit (the bytes already sent stay sent) and the connection closed, so the
 * caller sees a failed response, never a short one that looks whole. Both are recorded with the error
 * `result-limit`.
 */
import { GatehouseError } from '../../core/errors.js';

export class ResultLimitExceeded extends Error {
  constructor(readonly limit: number) {
    super(`the response is larger than maxResultBytes ${limit}`);
  }
}

/** The refusal for a response whose `content-length` is already over the limit. */
export function declaredOverLimit(contentLength: unknown, limit: number | undefined): GatehouseError | undefined {
  if (limit === undefined) return undefined;
  const length = Number(contentLength);
  if (contentLength === undefined || !Number.isFinite(length) || length <= limit) return undefined;
  return new GatehouseError(
    'policy.denied',
    `the response is ${length} bytes, over maxResultBytes ${limit} of the rule that allowed the call`,
  );
}

/** Passes at most `limit` bytes through, then throws ResultLimitExceeded. */
export async function* limitBytes(source: AsyncIterable<Buffer>, limit: number): AsyncIterable<Buffer> {
  let sent = 0;
  for await (const chunk of source) {
    if (sent + chunk.length > limit) {
      if (limit > sent) yield chunk.subarray(0, limit - sent);
      throw new ResultLimitExceeded(limit);
    }
    sent += chunk.length;
    yield chunk;
  }
}
