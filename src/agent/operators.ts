// Operators' signed statements in the shell (issue 15, DESIGN "Operators,
// and no one else"). A statement reaches a host from its local API (umbra
// move, standby, ...) or from the peer whose API got it; either way this host
// checks it itself (cluster, key under [[operators]], signature, time,
// nonce: shared/statements.ts) before its order goes into the host core,
// which decides what it does here. A refusal is logged with its reason and
// changes nothing. The host that got it from its API passes it to every
// connected peer. What each host's core did with an order is recorded in the
// audit trail of every service it concerns that the host keeps a replica of.
import type { HostId } from "../shared/ids.ts";
import type { Logger } from "../shared/log.ts";
import { checkStatement, NonceMemory, type Refusal, type SignedStatement } from "../shared/statements.ts";
import type { host } from "../decide/index.ts";
import type { AuditEntry } from "../state/index.ts";
import type { StatementMsg } from "./loop.ts";

/**
 * An order's audit entry is written this long after the core acted on it,
 * and only by the host that took it from its API and the host it is about
 * (the service's holder, or the host put in standby): a state write and its
 * replication cost each agent's loop 20-30 ms (bench/handover: every host
 * writing at the move's moment slowed the old holder's ip del from 1 ms to
 * 13-15 ms, and one move's lease ran out first; written half a second later
 * by all three, every agent's loop stalled 20-30 ms at once). The move
 * first, the record after, from as few hosts as say something.
 */
const AUDIT_DELAY_MS = 500;
/** Statements awaiting their order's outcome, at most (each leaves when the core answers, at once). */
const PENDING_MAX = 256;

export type OperatorKey = { name: string; publicKey: string };

/** Why this host refuses a statement: the check's reasons, an action not carried out yet, or names this cluster does not have. */
export type StatementRefusal = Refusal | "unknown-name";
export type Submitted = { ok: true; order: host.OperatorOrder } | { ok: false; reason: StatementRefusal; detail: string };

export type OperatorDeps = {
  cluster: string;
  self: HostId;
  hosts: readonly HostId[];
  services: readonly string[];
  operators: readonly OperatorKey[];
  log: Logger;
  /** Wall-clock milliseconds: statements carry wall-clock times. */
  nowWall(): number;
  /** The order into the host core now (from the API: outside the loop's turn). */
  feed(ev: host.HostEvent): void;
  /** To every connected peer. */
  passOn(msg: StatementMsg): void;
  /** Records entries in a service's audit trail, if this host keeps a replica of it. */
  audit(service: string, entries: AuditEntry[], message: string): Promise<void>;
  /** Counts a statement accepted (by action) or refused (by reason), for /metrics. */
  count?(outcome: "accepted" | "refused", actionOrReason: string): void;
};

export type Operators = {
  /** From the local API: checked, then its order goes to the core and the statement to every peer. */
  fromApi(x: unknown): Submitted;
  /** What this host's core did with an order it took from the API (the order-applied outcome), or null if it has not said within waitMs. */
  outcome(nonce: string, waitMs: number): Promise<string | null>;
  /** From a peer: checked; the order for the core, or null (refused, logged). */
  fromPeer(from: HostId, msg: StatementMsg): host.HostEvent | null;
  /** The core acted on an order: logged, and recorded in the audit trails it concerns. */
  applied(fx: Extract<host.HostEffect, { type: "order-applied" }>): void;
  /** SIGHUP: the operator keys as the config now lists them. */
  setOperators(ops: readonly OperatorKey[]): void;
};

export function operatorsShell(d: OperatorDeps): Operators {
  const nonces = new NonceMemory();
  const startedWallMs = d.nowWall();
  let byKey = new Map(d.operators.map((o) => [o.publicKey, o.name]));
  const pending = new Map<string, SignedStatement>();
  /** Nonces of the statements this host took from its own API (bounded with pending). */
  const origin = new Set<string>();
  const outcomes = new Outcomes();

  const check = (x: unknown, via: string): Submitted => {
    const refuse = (r: Extract<Submitted, { ok: false }>): Submitted => {
      const s = x as Partial<SignedStatement> | null;
      d.count?.("refused", r.reason);
      d.log("warn", "operators", "statement-refused", { via, reason: r.reason, detail: r.detail, action: s?.action, service: s?.service, target: s?.target, operator: typeof s?.operator === "string" ? s.operator.slice(0, 16) : undefined });
      return r;
    };
    const c = checkStatement(x, { cluster: d.cluster, operators: new Set(byKey.keys()), nowMs: d.nowWall(), nonces });
    if (!c.ok) return refuse(c);
    const out = orderAfterCheck(c.statement, d, startedWallMs);
    if (!out.ok) return refuse(out);
    if (pending.size >= PENDING_MAX) pending.delete(pending.keys().next().value!);
    pending.set(out.order.nonce, c.statement);
    d.count?.("accepted", out.order.action);
    d.log("info", "operators", "statement-accepted", { via, action: out.order.action, service: out.order.service, target: out.order.target, operator: byKey.get(out.order.operator), reason: out.order.reason });
    return out;
  };

  return {
    fromApi(x) {
      const out = check(x, "api");
      if (!out.ok) return out;
      if (origin.size >= PENDING_MAX) origin.delete(origin.values().next().value!);
      origin.add(out.order.nonce);
      d.passOn({ type: "statement", statement: pending.get(out.order.nonce)! });
      d.feed({ type: "order", order: out.order });
      return out;
    },
    fromPeer(from, msg) {
      const out = check(msg.statement, from);
      return out.ok ? { type: "order", order: out.order } : null;
    },
    applied(fx) {
      const s = pending.get(fx.order.nonce);
      pending.delete(fx.order.nonce);
      if (fx.repeat || s === undefined) return;
      if (origin.has(s.nonce)) outcomes.said(s.nonce, fx.outcome);
      const name = byKey.get(s.operator) ?? "(a key no longer listed)";
      d.log("info", "operators", "order-applied", { action: fx.order.action, service: fx.order.service, target: fx.order.target, operator: name, outcome: fx.outcome });
      // On record from the host that took the order and the host it is about; the others' "noted" is in their logs.
      if (!fx.concerned && !origin.has(s.nonce)) return;
      origin.delete(s.nonce);
      const entry: AuditEntry = { nonce: s.nonce, action: s.action, service: s.service, target: s.target, reason: s.reason, operator: name, operatorKey: s.operator.slice(0, 16), issuedAtMs: s.issuedAtMs, host: d.self, atMs: d.nowWall(), outcome: fx.outcome };
      const what = `operator ${name}: ${s.action}${s.service === null ? "" : ` ${s.service}`}${s.target === null ? "" : ` ${s.target}`}`;
      setTimeout(() => {
        for (const service of fx.services) {
          d.audit(service, [entry], what).catch((err: Error) => d.log("warn", "operators", "audit-write-failed", { service, nonce: s.nonce, error: err.message }));
        }
      }, AUDIT_DELAY_MS);
    },
    outcome: (nonce, waitMs) => outcomes.await(nonce, waitMs),
    setOperators(ops) {
      byKey = new Map(ops.map((o) => [o.publicKey, o.name]));
    },
  };
}

/** Outcomes of the orders this host took from its API, kept until read (at most PENDING_MAX), and who waits for one. */
class Outcomes {
  private readonly kept = new Map<string, string>();
  private readonly waiting = new Map<string, (outcome: string) => void>();

  said(nonce: string, outcome: string): void {
    if (this.kept.size >= PENDING_MAX) this.kept.delete(this.kept.keys().next().value!);
    this.kept.set(nonce, outcome);
    this.waiting.get(nonce)?.(outcome);
  }

  async await(nonce: string, waitMs: number): Promise<string | null> {
    const said =
      this.kept.get(nonce) ??
      (await new Promise<string | null>((resolve) => {
        const timer = setTimeout(() => resolve(null), waitMs);
        this.waiting.set(nonce, (o) => {
          clearTimeout(timer);
          resolve(o);
        });
      }));
    this.waiting.delete(nonce);
    this.kept.delete(nonce);
    return said;
  }
}

/** A statement that passed its checks, as an order; refused if issued before this agent started (its nonces are remembered from then: it could be a replay it no longer knows). */
function orderAfterCheck(s: SignedStatement, d: Pick<OperatorDeps, "hosts" | "services">, startedWallMs: number): Submitted {
  if (s.issuedAtMs < startedWallMs) return { ok: false, reason: "replayed", detail: `issued ${startedWallMs - s.issuedAtMs} ms before this agent started, which remembers nonces from its start: issue it again` };
  return orderOf(s, d);
}

/** A statement that passed its checks, as an order, if this host can carry its action and knows its names. */
function orderOf(s: SignedStatement, d: Pick<OperatorDeps, "hosts" | "services">): Submitted {
  const needsService = s.action === "move" || s.action === "failover" || s.action === "override";
  if (s.action === "override" && s.expectVotes === null) return { ok: false, reason: "malformed", detail: "an override names the votes to expect (expectVotes)" };
  if (needsService && (s.service === null || !d.services.includes(s.service))) return { ok: false, reason: "unknown-name", detail: `no service "${s.service}" in this cluster (services: ${d.services.join(", ") || "none"})` };
  const target = d.hosts.find((h) => h === s.target) ?? null;
  if ((s.action !== "failover" && s.action !== "override" && s.target === null) || (s.target !== null && target === null)) return { ok: false, reason: "unknown-name", detail: `no host "${s.target}" in this cluster (hosts: ${d.hosts.join(", ")})` };
  return { ok: true, order: { nonce: s.nonce, action: s.action, service: s.service, target, expectVotes: s.action === "override" ? s.expectVotes : null, reason: s.reason, operator: s.operator, issuedAtMs: s.issuedAtMs } };
}
