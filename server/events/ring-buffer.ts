/**
 * A fixed-capacity FIFO over one preallocated array: push overwrites the oldest entry once full,
 * in O(1) (no Array.shift, which moves every element).
 */
export class RingBuffer<T> {
  private readonly slots: (T | undefined)[];
  private head = 0; // index of the oldest entry
  private count = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`ring capacity must be a positive integer, got ${capacity}`);
    this.slots = new Array<T | undefined>(capacity);
  }

  get size(): number {
    return this.count;
  }

  /** Appends `item`; returns the entry it pushed out, if the ring was full. */
  push(item: T): T | undefined {
    if (this.count < this.capacity) {
      this.slots[(this.head + this.count) % this.capacity] = item;
      this.count++;
      return undefined;
    }
    const evicted = this.slots[this.head];
    this.slots[this.head] = item;
    this.head = (this.head + 1) % this.capacity;
    return evicted;
  }

  /** Oldest entry, if any. */
  first(): T | undefined {
    return this.count === 0 ? undefined : this.slots[this.head];
  }

  /** Entry `i` counted from the oldest (0). */
  at(i: number): T | undefined {
    if (i < 0 || i >= this.count) return undefined;
    return this.slots[(this.head + i) % this.capacity];
  }

  /** Entries from the first one `keep` accepts to the newest, oldest first (binary search: `keep` must be monotone). */
  tailFrom(keep: (item: T) => boolean): T[] {
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (keep(this.at(mid)!)) hi = mid;
      else lo = mid + 1;
    }
    const out: T[] = [];
    for (let i = lo; i < this.count; i++) out.push(this.at(i)!);
    return out;
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = 0; i < this.count; i++) yield this.at(i)!;
  }

  clear(): void {
    this.slots.fill(undefined);
    this.head = 0;
    this.count = 0;
  }
}
