// A fixed-capacity ring of numbers: push is O(1) with no allocation; the
// window comes out oldest first. The forecaster's per-metric history.
import { assert } from "../shared/assert.ts";

export class Ring {
  readonly capacity: number;
  private readonly buf: Float64Array;
  private start = 0;
  private count = 0;

  constructor(capacity: number) {
    assert(Number.isInteger(capacity) && capacity >= 1, "a ring holds at least one value");
    this.capacity = capacity;
    this.buf = new Float64Array(capacity);
  }

  get length(): number {
    return this.count;
  }

  push(v: number): void {
    assert(Number.isFinite(v), "ring values are finite");
    const end = (this.start + this.count) % this.capacity;
    this.buf[end] = v;
    if (this.count < this.capacity) this.count += 1;
    else this.start = (this.start + 1) % this.capacity;
  }

  /** The newest value; undefined when empty. */
  last(): number | undefined {
    return this.count === 0 ? undefined : this.buf[(this.start + this.count - 1) % this.capacity];
  }

  /** The values, oldest first, into a new array (or `out` when it has room). */
  toArray(out?: Float64Array): Float64Array {
    const a = out !== undefined && out.length >= this.count ? out.subarray(0, this.count) : new Float64Array(this.count);
    const first = Math.min(this.count, this.capacity - this.start);
    a.set(this.buf.subarray(this.start, this.start + first), 0);
    if (first < this.count) a.set(this.buf.subarray(0, this.count - first), first);
    return a;
  }
}
