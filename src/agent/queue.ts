// A bounded, named queue for the shell: when full it drops (the oldest or
// the newest item, as its owner chooses) and counts what it dropped, so
// status can show every queue's losses by name. Nothing waits on it.

import { assert, assertNever } from "../shared/assert.ts";

/** What a full queue gives up: the oldest item (news beats history) or the newcomer. */
export type DropPolicy = "drop-oldest" | "drop-newest";

/** A queue's name, bound and losses, as status shows them. */
export type QueueCount = { name: string; max: number; dropped: number };

export class BoundedQueue<T> {
  readonly name: string;
  readonly max: number;
  private readonly policy: DropPolicy;
  private readonly items: T[] = [];
  private droppedCount = 0;

  constructor(name: string, max: number, policy: DropPolicy) {
    this.name = name;
    this.max = max;
    this.policy = policy;
    assert(Number.isSafeInteger(max) && max > 0, `queue ${name} has a positive bound`);
  }

  /** Adds an item; past the bound one item is dropped (per the policy) and counted. */
  push(item: T): void {
    if (this.items.length >= this.max) {
      this.droppedCount += 1;
      switch (this.policy) {
        case "drop-oldest":
          this.items.shift();
          break;
        case "drop-newest":
          return;
        default:
          assertNever(this.policy);
      }
    }
    this.items.push(item);
    assert(this.items.length <= this.max, `queue ${this.name} stays within ${this.max}`);
  }

  /** The oldest item, removed; undefined when empty. */
  shift(): T | undefined {
    return this.items.shift();
  }

  /** Every item, oldest first, and the queue empty. */
  drain(): T[] {
    return this.items.splice(0);
  }

  get length(): number {
    return this.items.length;
  }

  get dropped(): number {
    return this.droppedCount;
  }

  count(): QueueCount {
    return { name: this.name, max: this.max, dropped: this.droppedCount };
  }
}
