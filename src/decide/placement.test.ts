import { describe, expect, test } from "bun:test";
import { hostId, type HostId } from "../shared/ids.ts";
import { distance, domainPath, rankCandidates, type Labels } from "./placement.ts";

const DOMAINS = ["region", "zone", "rack"];
const at = (region: string, zone: string, rack: string): Labels => ({ region, zone, rack });
const h = (s: string): HostId => hostId(s);

describe("placement", () => {
  test("distance counts the levels, from the host up, at or below which two hosts differ", () => {
    const p = (id: string, l: Labels) => domainPath(h(id), l, DOMAINS);
    const a = p("a", at("eu", "z1", "r1"));
    expect(distance(a, a)).toBe(0);
    expect(distance(a, p("b", at("eu", "z1", "r1")))).toBe(1); // same rack
    expect(distance(a, p("b", at("eu", "z1", "r2")))).toBe(2); // same zone
    expect(distance(a, p("b", at("eu", "z2", "r1")))).toBe(3); // same region: a rack named alike in another zone is another rack
    expect(distance(a, p("b", at("us", "z1", "r1")))).toBe(4);
  });

  test("a shadow in another rack takes over before one in the primary's rack; each next is farthest from those before it; ties keep the configured order", () => {
    const labels: Record<string, Labels> = {
      h1: at("eu", "z1", "r1"),
      h2: at("eu", "z1", "r1"), // the primary's rack
      h3: at("eu", "z1", "r2"), // another rack
      h4: at("eu", "z2", "r7"), // another zone
      h5: at("eu", "z2", "r8"), // that zone again, another rack
      h6: at("eu", "z3", "r9"), // a third zone
    };
    const of = (x: HostId) => labels[x]!;
    const rank = (shadows: string[], domains = DOMAINS): string[] => rankCandidates(h("h1"), shadows.map(h), of, domains);
    expect(rank(["h2", "h3"])).toEqual(["h1", "h3", "h2"]);
    // h4, h5 and h6 are each 3 from h1; after h4, h6 (3 from h4) beats h5 (2 from h4).
    expect(rank(["h2", "h3", "h4", "h5", "h6"])).toEqual(["h1", "h4", "h6", "h5", "h3", "h2"]);
    // Without domains, the configured order stands.
    expect(rank(["h2", "h3"], [])).toEqual(["h1", "h2", "h3"]);
  });
});
