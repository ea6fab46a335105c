// A small seeded PRNG (mulberry32). The pure core never calls Math.random:
// the shell or the simulator hands it numbers drawn from one of these.

export type Rng = { next(): number; int(maxExclusive: number): number; seed: number };

export function rng(seed: number): Rng {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { seed, next, int: (maxExclusive) => Math.floor(next() * maxExclusive) };
}
