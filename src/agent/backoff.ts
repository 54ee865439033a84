/** Exponential backoff with full jitter: a random delay up to min * 2^attempt, capped at max (AWS's "full jitter"). */
export function nextBackoff(attempt: number, minMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, minMs * 2 ** Math.min(attempt, 30));
  return Math.max(minMs, Math.floor(random() * ceiling));
}
