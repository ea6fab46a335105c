// Proves `umbra status` prints members and services as aligned tables.
import { expect, test } from "bun:test";
import { formatStatus } from "./statusTable.ts";
import { SAMPLE_STATUS } from "../api/testdata.ts";

test("formats a status document", () => {
  expect(formatStatus(SAMPLE_STATUS)).toBe(
    [
      "host h2  cluster demo  role active  up 2m  umbra 0.1.0",
      "",
      "MEMBER     STATUS  INC  CONN  RTT    CPU  MEM  BEACON",
      "h2 (self)  alive   0    -     -      25%  50%  0s ago",
      "h1         dead    2    no    -      -    -    4s ago",
      "h3         alive   1    yes   0.4ms  7%   31%  1s ago",
      "",
      "SERVICE  VIP               HOLDER     EPOCH  LEASE  STATE    LAST CHANGE",
      "web      198.51.100.10/24  h2 (here)  2      231ms  holding  h1 -> h2 (holder-lost) 42s ago",
      "",
    ].join("\n"),
  );
});
