/**
 * A first-in, first-out queue with constant-time `push` and `shift` at any length (a ring buffer that
 * doubles when full). `Array.prototype.shift` is not: once an array outgrows V8's regular heap pages
 * (about 16k elements) it can no longer be trimmed in place and every shift copies the rest, ~75 µs at
 * 50k elements. Queues that grow under load (the broker's emitter, the ingest's unacknowledged messages)
 * would then spend more time shifting the longer they get.
 */
export class Fifo<T> {
  private items: (T | undefined)[];
  private mask: number;
  private head = 0;
  private size = 0;

  constructor(initialCapacity = 16) {
    let capacity = 16;
    while (capacity < initialCapacity) capacity *= 2;
    this.items = new Array<T | undefined>(capacity);
    this.mask = capacity - 1;
  }

  get length(): number {
    return this.size;
  }

  /** Appends `item`; returns the new length (as `Array.prototype.push` does). */
  push(item: T): number {
    if (this.size > this.mask) this.grow();
    this.items[(this.head + this.size) & this.mask] = item;
    this.size += 1;
    return this.size;
  }

  /** Removes and returns the oldest item, or undefined when empty. */
  shift(): T | undefined {
    if (this.size === 0) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined;
    this.head = (this.head + 1) & this.mask;
    this.size -= 1;
    return item;
  }

  /** The oldest item, left in place. */
  peek(): T | undefined {
    return this.size === 0 ? undefined : this.items[this.head];
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = 0; i < this.size; i += 1) yield this.items[(this.head + i) & this.mask] as T;
  }

  private grow(): void {
    const old = this.items;
    const capacity = old.length * 2;
    const items = new Array<T | undefined>(capacity);
    for (let i = 0; i < this.size; i += 1) items[i] = old[(this.head + i) & this.mask];
    this.items = items;
    this.mask = capacity - 1;
    this.head = 0;
  }
}
