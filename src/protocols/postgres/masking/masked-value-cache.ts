/** Entries a column rule's cache holds at most (see `MaskedValueCache`); it starts smaller and doubles as it fills. */
export const MASKED_VALUE_CACHE_ENTRIES = 16_384;
/** Entries a cache starts with: a result of a few rows costs a few KB, not the whole cache. */
const FIRST_ENTRIES = 256;
/** A slot's four Int32 (see `MaskedValueCache.slots`): the hash is the first. */
const SLOT_INTS = 4;
const ENTRY = 1;
const START = 2;
const LENGTH = 3;
/** Values longer than this are not cached: column rules mask short values (emails, numbers, names). */
const MAX_VALUE_BYTES = 256;
/** Bytes of values kept per entry on average; a cache whose values fill this is full before its entries are. */
const VALUE_BYTES_PER_ENTRY = 64;

/**
 * The masked values of one column rule, by the value's bytes as the backend sent them: a value met again is
 * masked without being decoded (no string made, none hashed). Valid because a rule's masking is a pure function
 * of the value: `redact` gives the kind's label, `partial` the kind's `partial` (string operations only), and
 * `tokenize` an HMAC under the plan's fixed key (see styles.ts). Equal bytes decode to equal text, so a byte
 * key never joins values that mask differently.
 *
 * Hand-written, open addressing over typed arrays with an FNV-1a hash of the bytes: a Map (or any library map)
 * keys by strings, which is the decode and hash this avoids. Bounded: when full at its largest it is cleared (the
 * Tokenizer's own cache still holds the tokens behind it, so a dropped value costs a decode, not an HMAC).
 */
export class MaskedValueCache {
  private capacity: number;
  /**
   * Four Int32 per slot: the value's hash, its entry's index + 1 (negated when masking left the value as it was; 0:
   * an empty slot), where its bytes begin in `values`, and how many. A power of two of slots, at least twice as
   * many as entries (linear probing always ends at an empty slot). One table rather than one per field: a lookup
   * then reads one place in memory to compare hash and length and find the bytes, not four.
   */
  private slots = new Int32Array(0);
  private slotMask = 0;
  /** The entries' values side by side. */
  private values = new Uint8Array(0);
  private valuesUsed = 0;
  /** Each entry's masked value ('' when unchanged). */
  private results: string[] = [];
  private size = 0;
  /** The hash of the value last looked up and missed, and the empty slot where it goes (see `add`). */
  private missHash = 0;
  private missSlot = -1;

  constructor(private readonly maxEntries = MASKED_VALUE_CACHE_ENTRIES) {
    this.capacity = Math.max(1, Math.min(FIRST_ENTRIES, maxEntries));
    this.allocate();
  }

  /** The slot of the value `bytes[start, end)`, or -1 (then `add` may follow, before any other lookup). */
  find(bytes: Uint8Array, start: number, end: number): number {
    const length = end - start;
    if (length > MAX_VALUE_BYTES) {
      this.missSlot = -1;
      return -1;
    }
    const hash = hashBytes(bytes, start, end);
    const { slots, values, slotMask } = this;
    for (let slot = hash & slotMask; ; slot = (slot + 1) & slotMask) {
      const at = slot * SLOT_INTS;
      if (slots[at + ENTRY] === 0) {
        this.missHash = hash;
        this.missSlot = slot;
        return -1;
      }
      if (slots[at] !== hash || slots[at + LENGTH] !== length) continue;
      const offset = (slots[at + START] as number) - start;
      let k = start;
      while (k < end && values[offset + k] === bytes[k]) k++;
      if (k === end) return slot;
    }
  }

  /** The masked value of a slot `find` returned; undefined when masking left the value as it was. */
  result(slot: number): string | undefined {
    const entry = this.slots[slot * SLOT_INTS + ENTRY] as number;
    return entry < 0 ? undefined : this.results[entry - 1];
  }

  /** Keeps how the value last missed by `find` masks (`result`, or undefined when unchanged). */
  add(bytes: Uint8Array, start: number, end: number, result: string | undefined): void {
    if (this.missSlot < 0) return;
    const length = end - start;
    if (this.size === this.capacity || this.valuesUsed + length > this.values.length) {
      if (this.capacity < this.maxEntries) this.capacity = Math.min(2 * this.capacity, this.maxEntries);
      this.allocate();
      this.missSlot = this.missHash & this.slotMask;
    }
    const entry = this.size++;
    const at = this.missSlot * SLOT_INTS;
    const slots = this.slots;
    slots[at] = this.missHash;
    slots[at + ENTRY] = result === undefined ? -(entry + 1) : entry + 1;
    slots[at + START] = this.valuesUsed;
    slots[at + LENGTH] = length;
    const values = this.values;
    for (let k = 0, to = this.valuesUsed; k < length; k++) values[to + k] = bytes[start + k] as number;
    this.valuesUsed += length;
    this.results[entry] = result ?? '';
    this.missSlot = -1;
  }

  /**
   * Empty tables for `capacity` entries: a cache grows, or is cleared when full at its largest, this way (growing
   * drops what it held too: the values come back at a decode each, and rehashing is not worth its code).
   */
  private allocate(): void {
    const capacity = this.capacity;
    let slots = 2;
    while (slots < 2 * capacity) slots *= 2;
    this.slots = new Int32Array(slots * SLOT_INTS);
    this.slotMask = slots - 1;
    this.values = new Uint8Array(Math.max(capacity * VALUE_BYTES_PER_ENTRY, MAX_VALUE_BYTES));
    this.results = [];
    this.size = 0;
    this.valuesUsed = 0;
  }
}

/** FNV-1a (32 bits) of `bytes[start, end)`: a few operations a byte, for values of a few dozen bytes. */
export function hashBytes(bytes: Uint8Array, start: number, end: number): number {
  let hash = 0x811c9dc5;
  for (let k = start; k < end; k++) hash = Math.imul(hash ^ (bytes[k] as number), 0x01000193);
  return hash;
}
