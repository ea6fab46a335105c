// Proves the reading of the CPUs the agent may run on, which its armed
// gratuitous-ARP shells are pinned to (one per CPU, two at most).
import { expect, test } from "bun:test";
import { allowedCpus } from "./agent.ts";

test("Cpus_allowed_list: ranges and single CPUs; nothing readable, nothing", () => {
  expect(allowedCpus("Name:\tnode\nCpus_allowed_list:\t0-3,6\n")).toEqual([0, 1, 2, 3, 6]);
  expect(allowedCpus("Cpus_allowed_list:\t1\n")).toEqual([1]);
  expect(allowedCpus("Name:\tnode\n")).toEqual([]);
  expect(allowedCpus(null)).toEqual([]);
  expect(allowedCpus().length).toBeGreaterThan(0); // this process's own
});
