/** Per-type counts of what was masked in one response (and one request): recorded in the audit result. */
export class MaskCounts {
  /**
   * The types counted, in the order first seen, and their counts. Parallel arrays: a response counts a few types,
   * each once per masked value, and comparing a few interned strings costs less than a keyed property update.
   */
  private readonly types: string[] = [];
  private readonly counts: number[] = [];
  private total = 0;

  add(type: string, count = 1): void {
    const types = this.types;
    this.total += count;
    for (let i = 0; i < types.length; i++) {
      if (types[i] === type) {
        (this.counts[i] as number) += count;
        return;
      }
    }
    types.push(type);
    this.counts.push(count);
  }

  merge(other: MaskCounts): void {
    for (let i = 0; i < other.types.length; i++) this.add(other.types[i] as string, other.counts[i] as number);
  }

  get empty(): boolean {
    return this.total === 0;
  }

  /** A plain object for the audit record, e.g. `{ email: 3, card: 1 }` (any type name an own property). */
  toRecord(): Record<string, number> {
    return Object.fromEntries(this.types.map((type, i) => [type, this.counts[i] as number]));
  }
}
