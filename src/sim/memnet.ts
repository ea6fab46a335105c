// The in-memory twin of the mesh link: a network of links that keep the
// same contract as the agent's hyperswarm mesh (shared/meshlink.ts), for
// the simulator and for tests. Every open link is connected to every other
// (a link that opens or closes tells the others through onPeer); what the
// wire does to a frame is the network's: a partition or a one-way cut loses
// it, as a cut cable does before any keepalive notices, and otherwise it
// is lost, duplicated or delayed as the net profile draws it from a seeded
// stream. When a frame arrives is not this module's business: it hands each
// one to an injected scheduler (virtual time in the simulator, timers in a
// test), which gives it back to deliver() when its time comes.

import type { HostId } from "../shared/ids.ts";
import type { MeshLink, MeshLinkEvents } from "../shared/meshlink.ts";
import type { Rng } from "../shared/rng.ts";

/** What the wire does to a frame: its delay, and the chance it is lost or arrives twice. */
export type NetProfile = {
  delayMinMs: number;
  delayMaxMs: number;
  /** Probability a message is lost. */
  dropRate: number;
  /** Probability a message is delivered twice. */
  duplicateRate: number;
};

/** One frame on the wire. */
export type Delivery<M> = { from: HostId; to: HostId; msg: M };

/** When frames arrive: the scheduler holds each until its delay is over, then hands it to MemNet.deliver. */
export type Scheduler<M> = {
  after(delayMs: number, d: Delivery<M>): void;
  /** Frames (and whatever else the scheduler holds) not yet handed back: past the net's bound a send fails. */
  pending(): number;
};

export type MemNetOptions<M> = {
  scheduler: Scheduler<M>;
  profile: NetProfile;
  /** The seeded stream a frame's fate is drawn from (the simulator draws replication traffic from its own). */
  rngFor(msg: M): Rng;
  /** Frames the scheduler may hold at once; past it the network drops (a full queue) and the send says so. */
  inFlightMax: number;
};

/** One open end of the twin network. */
type End<M> = { self: HostId; events: MeshLinkEvents<M>; open: boolean };

/** A network of in-memory mesh links with the simulator's faults. */
export class MemNet<M> {
  private readonly o: MemNetOptions<M>;
  private profile: NetProfile;
  /** The open link of each host, in the order they opened. */
  private readonly ends = new Map<HostId, End<M>>();
  /** Hosts in different groups cannot talk; hosts in no group talk to nobody (null: no partition). */
  private groups: HostId[][] | null = null;
  /** One-way cuts, as "from>to". */
  private readonly oneWay = new Set<string>();

  constructor(o: MemNetOptions<M>) {
    this.o = o;
    this.profile = o.profile;
  }

  /** Opens `self`'s link (replacing an open one, as a new connection replaces the old): it and every open link see each other connected. */
  open(self: HostId, events: MeshLinkEvents<M>): MeshLink<M> {
    const prior = this.ends.get(self);
    if (prior !== undefined) this.close(prior);
    const end: End<M> = { self, events, open: true };
    this.ends.set(self, end);
    for (const p of this.ends.values()) {
      if (p === end) continue;
      end.events.onPeer(p.self, true);
      p.events.onPeer(self, true);
    }
    return {
      send: (to, msg) => this.send(end, to, msg),
      connected: () => (end.open ? [...this.ends.keys()].filter((h) => h !== self) : []),
      close: async () => this.close(end),
    };
  }

  /** A frame whose time has come: to the receiver's link, if both ends are still open. False when it went nowhere. */
  deliver(d: Delivery<M>): boolean {
    const to = this.ends.get(d.to);
    if (to === undefined || !this.ends.has(d.from)) return false;
    to.events.onMessage(d.from, d.msg);
    return true;
  }

  /** Whether a frame from `a` reaches `b` (a partition or a one-way cut between them loses it). */
  reachable(a: HostId, b: HostId): boolean {
    if (a === b) return true;
    if (this.oneWay.has(`${a}>${b}`)) return false;
    if (this.groups === null) return true;
    return this.groups.some((g) => g.includes(a) && g.includes(b));
  }

  partition(groups: HostId[][]): void {
    this.groups = groups;
  }

  cutOneWay(from: HostId, to: HostId): void {
    this.oneWay.add(`${from}>${to}`);
  }

  /** Ends every partition and cut. */
  heal(): void {
    this.groups = null;
    this.oneWay.clear();
  }

  /** Changes loss, duplication and delay from now on. */
  setProfile(p: NetProfile): void {
    this.profile = p;
  }

  // The order of the checks and draws is the simulator's: an unreachable
  // frame draws nothing, a lost one draws once, then one draw for a
  // duplicate and one delay per copy. Same seed, same run.
  private send(from: End<M>, to: HostId, msg: M): boolean {
    if (!from.open || to === from.self || !this.ends.has(to)) return false;
    const g = this.o.rngFor(msg);
    const net = this.profile;
    if (!this.reachable(from.self, to) || g.next() < net.dropRate) return true; // taken, and lost on the wire
    if (this.o.scheduler.pending() >= this.o.inFlightMax) return false;
    const copies = g.next() < net.duplicateRate ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      const delay = net.delayMinMs + g.next() * (net.delayMaxMs - net.delayMinMs);
      this.o.scheduler.after(delay, { from: from.self, to, msg });
    }
    return true;
  }

  private close(end: End<M>): void {
    if (!end.open) return;
    end.open = false;
    if (this.ends.get(end.self) === end) this.ends.delete(end.self);
    for (const p of this.ends.values()) p.events.onPeer(end.self, false);
  }
}
