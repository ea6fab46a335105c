// Proves a bounded queue never holds more than its bound, drops by its
// policy (the oldest, or the newcomer), and counts every drop under its name.
import { expect, test } from "bun:test";
import { BoundedQueue } from "./queue.ts";

test("drop-oldest keeps the newest items and counts what it dropped", () => {
  const q = new BoundedQueue<number>("inbox", 3, "drop-oldest");
  for (let i = 1; i <= 5; i++) q.push(i);
  expect(q.length).toBe(3);
  expect(q.count()).toEqual({ name: "inbox", max: 3, dropped: 2 });
  expect(q.shift()).toBe(3);
  expect(q.drain()).toEqual([4, 5]);
  expect(q.length).toBe(0);
});

test("drop-newest keeps the first items and refuses the rest, counted", () => {
  const q = new BoundedQueue<string>("peer-events", 2, "drop-newest");
  for (const x of ["a", "b", "c", "d"]) q.push(x);
  expect(q.drain()).toEqual(["a", "b"]);
  expect(q.dropped).toBe(2);
  q.push("e");
  expect(q.drain()).toEqual(["e"]);
  expect(q.dropped).toBe(2);
});

test("a queue without a positive bound is a bug", () => {
  expect(() => new BoundedQueue("bad", 0, "drop-oldest")).toThrow(/positive bound/);
});
