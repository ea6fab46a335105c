// Proves reconciliation plans the edit that brings a service's state to the
// intended version, lists what it drops, and edits nothing while that
// version is not here yet.
import { expect, test } from "bun:test";
import { planReconcile } from "./reconcile.ts";

test("latest acknowledged state already here: nothing to change; unacknowledged changes are kept and listed", () => {
  const p = planReconcile({ current: { a: 1, b: 2 }, intended: { a: 1 }, declared: false, conflicts: [], unacked: [{ hash: "h", message: "late write" }] });
  expect(p).toEqual({ edit: null, rolledBack: [], kept: [{ hash: "h", message: "late write" }], conflicts: [], incomplete: false });
});

test("an operator-declared version rolls every differing key back, deletes what it did not have, and drops nothing silently", () => {
  const p = planReconcile({ current: { image: "web:3", extra: true, same: 1 }, intended: { image: "web:2", same: 1, gone: "x" }, declared: true, conflicts: [{ key: "image", chosen: "web:3", others: ["web:2b"] }], unacked: [{ hash: "h", message: null }] });
  expect(p.edit).toEqual({ set: { image: "web:2", gone: "x" }, delete: ["extra"] });
  expect(p.rolledBack).toEqual(["extra", "gone", "image"]);
  expect(p.kept).toEqual([]);
  expect(p.conflicts).toEqual([{ key: "image", chosen: "web:3", others: ["web:2b"] }]);
});

test("intended heads not here yet: incomplete, no edit", () => {
  expect(planReconcile({ current: { a: 1 }, intended: null, declared: false, conflicts: [], unacked: [] })).toMatchObject({ edit: null, incomplete: true });
});
