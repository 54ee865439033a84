/** Per-type counts of what was masked in one response (and one request): recorded in the audit result. */
export class MaskCounts {
  private readonly byType: Record<string, number> = Object.create(null);
  private total = 0;

  add(type: string, count = 1): void {
    this.byType[type] = (this.byType[type] ?? 0) + count;
    this.total += count;
  }

  merge(other: MaskCounts): void {
    for (const [type, count] of Object.entries(other.byType)) this.add(type, count);
  }

  get empty(): boolean {
    return this.total === 0;
  }

  /** A plain object for the audit record, e.g. `{ email: 3, card: 1 }`. */
  toRecord(): Record<string, number> {
    return { ...this.byType };
  }
}
