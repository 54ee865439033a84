/** Parses `90`, `90s`, `5m`, `1h`, `250ms`, `2d` into milliseconds. Bare numbers are seconds. */
const UNIT_MS: Readonly<Record<string, number>> = Object.assign(Object.create(null), {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
});

export function parseDuration(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value * 1000 : undefined;
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(value);
  if (!match) return undefined;
  const unit = UNIT_MS[match[2] ?? 's'];
  return unit === undefined ? undefined : Math.round(Number(match[1]) * unit);
}
