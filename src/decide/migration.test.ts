import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { hostId, type HostId } from "../shared/ids.ts";
import { initialMigration, loads, MIGRATE_ALARM_AFTER, nextTickMs, plan, step, type MigrationState, type Workload } from "./migration.ts";

const [h1, h2, h3] = [hostId("h1"), hostId("h2"), hostId("h3")];
const w = (id: string, host: HostId, weight = 1): Workload => ({ id, host, weight });
const withList = (list: Workload[]): MigrationState => step(initialMigration(), { type: "workloads", list }, 0).state;
const tick = (s: MigrationState, now: number, pool: HostId[], holding = true) => step(s, { type: "tick", holding, pool }, now);
const done = (s: MigrationState, now: number, ok = true) => step(s, { type: "migrated", id: s.running!.id, to: s.running!.to, ok, detail: ok ? "" : "exit 1" }, now);

describe("migration", () => {
  test("a scale out draws workloads off the holder until the gap is narrowest; a scale in brings them back; one move at a time", () => {
    let s = withList([w("a", h1), w("b", h1), w("c", h1), w("d", h1)]);
    expect(tick(s, 0, [h1]).effects).toEqual([]); // all where they should be
    const moved: string[] = [];
    for (let i = 0; i < 10; i++) {
      const out = tick(s, i, [h1, h2]);
      if (out.effects.length === 0) break;
      expect(tick(out.state, i, [h1, h2]).effects).toEqual([]); // one at a time
      moved.push(`${out.state.running!.id}:${out.state.running!.from}>${out.state.running!.to}`);
      s = done(out.state, i).state;
    }
    expect(moved).toEqual(["a:h1>h2", "b:h1>h2"]);
    expect([...loads(s.workloads, [h1, h2]).values()]).toEqual([2, 2]);
    // Scale in: h2 leaves the pool, its workloads come home.
    const back = tick(s, 20, [h1]);
    expect(back.effects).toEqual([{ type: "migrate", id: "a", from: h2, to: h1, why: "h2 does not serve the service" }]);
  });

  test("weights: the largest workload that narrows the gap moves; none that would widen it or trade back", () => {
    expect(plan([w("big", h1, 5), w("small", h1, 1)], [h1, h2])).toMatchObject({ id: "big" }); // 6 | 0 becomes 1 | 5
    expect(plan([w("big", h1, 5), w("small", h1, 1)], [h1, h2, h3])).toMatchObject({ id: "big", to: h2 });
    expect(plan([w("small", h1, 1), w("big", h2, 5)], [h1, h2])).toBeNull(); // 1 | 5 would become 6 | 0: wider
    expect(plan([w("big", h1, 5)], [h1, h2])).toBeNull(); // 5 is not < 5: moving it only mirrors the gap
    expect(plan([w("a", h1, 0), w("b", h1, 0)], [h1, h2])).toBeNull(); // weightless ones stay put
  });

  test("a failed move is tried again after a back-off; the third in a row raises the alarm, a success clears it; no holder, no moves", () => {
    let s = withList([w("a", h3)]);
    const times: number[] = [];
    let now = 0;
    const alarms: unknown[] = [];
    for (let i = 0; i < 4; i++) {
      const out = tick(s, now, [h1]);
      expect(out.effects).toHaveLength(1);
      times.push(now);
      const f = done(out.state, now, false);
      alarms.push(...f.effects);
      s = f.state;
      expect(tick(s, now + 1, [h1]).effects).toEqual([]);
      now = nextTickMs(s, true, [h1], now);
    }
    expect(times).toEqual([0, 1_000, 3_000, 7_000]);
    expect(alarms).toEqual([{ type: "alarm", failing: true, detail: "a to h1: exit 1", attempts: MIGRATE_ALARM_AFTER }]);
    const ok = done(tick(s, now, [h1]).state, now);
    expect(ok.effects).toEqual([{ type: "alarm", failing: false, detail: null, attempts: 4 }]);
    expect(ok.state.workloads).toEqual([w("a", h1)]);
    expect(tick(withList([w("a", h3)]), 0, [h1], false).effects).toEqual([]);
    expect(nextTickMs(withList([w("a", h3)]), false, [h1], 0)).toBe(Infinity);
  });

  test("a move the document overtook (removed or moved meanwhile) is no failure; failures end with nothing left to move, the alarm with them", () => {
    const s = tick(withList([w("a", h3)]), 0, [h1]).state;
    const stale = step(s, { type: "migrated", id: "a", to: h1, ok: false, detail: "moved meanwhile", stale: true }, 1).state;
    expect(stale.running).toBeNull();
    expect(stale.failures).toBe(0);
    let f = s;
    for (let i = 0; i < MIGRATE_ALARM_AFTER; i++) f = done(tick(f, 100_000 * i, [h1]).state, 100_000 * i, false).state;
    expect(f.failures).toBe(MIGRATE_ALARM_AFTER);
    const gone = step(f, { type: "workloads", list: [w("a", h1)] }, 400_000).state; // the record landed after all
    expect(nextTickMs(gone, true, [h1], 400_000)).toBe(400_000);
    const out = tick(gone, 400_000, [h1]);
    expect(out.effects).toEqual([{ type: "alarm", failing: false, detail: null, attempts: MIGRATE_ALARM_AFTER }]);
    expect(nextTickMs(out.state, true, [h1], 400_000)).toBe(Infinity);
  });

  test("an outcome for another move (an earlier process's) changes nothing", () => {
    const s = tick(withList([w("a", h3)]), 0, [h1]).state;
    expect(step(s, { type: "migrated", id: "a", to: h2, ok: true, detail: "" }, 1).state).toBe(s);
  });

  test("property: from any placement, moving as planned ends with every workload in the pool and the gap under the largest weight, within a bounded number of moves", () => {
    const host = fc.constantFrom(h1, h2, h3, hostId("h4"));
    fc.assert(
      fc.property(fc.array(fc.tuple(host, fc.integer({ min: 0, max: 5 })), { maxLength: 30 }), fc.subarray([h1, h2, h3], { minLength: 1 }), (placed, pool) => {
        let list = placed.map(([h, wt], i) => w(`w${i}`, h, wt));
        let moves = 0;
        for (let m = plan(list, pool); m !== null; m = plan(list, pool)) {
          list = list.map((x) => (x.id === m.id ? { ...x, host: m.to } : x));
          moves++;
          expect(moves).toBeLessThanOrEqual(list.length * list.length + list.length);
        }
        expect(list.every((x) => pool.includes(x.host))).toBe(true);
        const l = [...loads(list, pool).values()];
        const heaviest = Math.max(0, ...list.map((x) => x.weight));
        expect(Math.max(...l) - Math.min(...l)).toBeLessThanOrEqual(heaviest);
      }),
      { numRuns: 300 },
    );
  });
});
