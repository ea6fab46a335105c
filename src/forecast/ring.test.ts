// Proves the ring keeps the newest `capacity` values, oldest first.
import { expect, test } from "bun:test";
import fc from "fast-check";
import { Ring } from "./ring.ts";

test("keeps the newest `capacity` values, oldest first, whatever the number of pushes", () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 20 }), fc.array(fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e9, max: 1e9 }), { maxLength: 100 }), (cap, xs) => {
      const r = new Ring(cap);
      for (const x of xs) r.push(x);
      expect([...r.toArray()]).toEqual(xs.slice(Math.max(0, xs.length - cap)));
      expect(r.last()).toBe(xs.at(-1));
    }),
    { seed: 3, numRuns: 300 },
  );
});
