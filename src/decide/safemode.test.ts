import { describe, expect, test } from "bun:test";
import { DIAGNOSE_RETRY_MS, initialSafeMode, inSafeMode, nextTickMs, safeWhy, step, type SafeMode } from "./safemode.ts";

const demoted = (s: SafeMode, now: number) => step(s, { type: "demoted", why: "demoted at epoch 2" }, now);

describe("safe mode", () => {
  test("demoted: safe mode on, diagnostics run; passing ends it and keeps the verdict", () => {
    const a = demoted(initialSafeMode(), 100);
    expect(a.effects).toEqual([{ type: "safe-mode-changed", on: true, why: "demoted at epoch 2" }, { type: "diagnose", seq: 1, why: "demoted at epoch 2" }]);
    expect(inSafeMode(a.state)).toBe(true);
    expect(safeWhy(a.state)).toBe("safe mode (demoted at epoch 2): diagnostics running");
    const b = step(a.state, { type: "diagnosed", seq: 1, ok: true, detail: "exit 0", bundle: "/b.json" }, 300);
    expect(b.effects).toEqual([{ type: "safe-mode-changed", on: false, why: "diagnostics passed" }]);
    expect(inSafeMode(b.state)).toBe(false);
    expect(b.state.last).toEqual({ seq: 1, ok: true, detail: "exit 0", bundle: "/b.json", atMs: 300 });
    expect(nextTickMs(b.state)).toBe(Infinity);
  });

  test("failed diagnostics run again DIAGNOSE_RETRY_MS later, not before; a stale outcome changes nothing", () => {
    let s = demoted(initialSafeMode(), 0).state;
    s = step(s, { type: "diagnosed", seq: 1, ok: false, detail: "exit 1: disk errors", bundle: null }, 50).state;
    expect(inSafeMode(s)).toBe(true);
    expect(safeWhy(s)).toBe("safe mode (demoted at epoch 2): diagnostics failed: exit 1: disk errors");
    expect(nextTickMs(s)).toBe(50 + DIAGNOSE_RETRY_MS);
    expect(step(s, { type: "tick" }, 49 + DIAGNOSE_RETRY_MS).state).toBe(s);
    const again = step(s, { type: "tick" }, 50 + DIAGNOSE_RETRY_MS);
    expect(again.effects).toEqual([{ type: "diagnose", seq: 2, why: "demoted at epoch 2" }]);
    expect(nextTickMs(again.state)).toBe(Infinity); // running: its outcome is awaited
    const stale = step(again.state, { type: "diagnosed", seq: 1, ok: true, detail: "late", bundle: null }, 60_100);
    expect(stale.state).toBe(again.state);
  });

  test("an operator's rejoin ends it at once; the running diagnostics' outcome then changes nothing", () => {
    const a = demoted(initialSafeMode(), 0).state;
    const b = step(a, { type: "rejoin", by: "alice" }, 10);
    expect(b.effects).toEqual([{ type: "safe-mode-changed", on: false, why: "rejoined by alice" }]);
    expect(step(b.state, { type: "diagnosed", seq: 1, ok: false, detail: "x", bundle: null }, 20).effects).toEqual([]);
    expect(step(b.state, { type: "rejoin", by: "alice" }, 30).effects).toEqual([]); // not in safe mode: nothing to end
  });

  test("demoted again while in safe mode, or restored from disk: one run at a time", () => {
    const a = demoted(initialSafeMode(), 0).state;
    expect(demoted(a, 5).effects).toEqual([]);
    const r = step(initialSafeMode(), { type: "restored", why: "kept" }, 7);
    expect(r.effects.map((f) => f.type)).toEqual(["safe-mode-changed", "diagnose"]);
    expect(r.state.sinceMs).toBe(7);
  });
});
