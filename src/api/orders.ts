// Operators' orders on the API: POST /statements takes an operator's signed
// statement (umbra move, failover, standby, unstandby, maintenance sign it
// with the operator's key); the agent checks it as every host does (shared/
// statements.ts) and answers 202 with the order it passed on to its host core
// and every peer, or 403 with why it refused (nothing changes then).
// GET /services/SERVICE/audit lists the service's audit trail: each order as
// every host that keeps a replica of it recorded it, oldest first.
import type { Hono } from "hono";
import { UmbraError } from "../shared/errors.ts";
import type { AuditEntry } from "../state/index.ts";

/** A statement the agent took or refused, as the CLI reads it back. */
export type StatementAnswer =
  | { ok: true; order: { nonce: string; action: string; service: string | null; target: string | null }; /** What this host's core did with it ("handing web over to h2 in person", "refused: ..."), null if it did not say in time. */ outcome: string | null }
  | { ok: false; reason: string; detail: string };

export type OrderDeps = {
  /** Checks a statement; an accepted one is passed on at once, and answered with what this host's core did with it (the other hosts' outcomes show in their logs and the audit trail). */
  submit(statement: unknown): Promise<StatementAnswer>;
  /** A service's audit entries, or null when this host keeps no replica of it (or knows no such service). */
  audit(service: string): AuditEntry[] | null;
};

/** The HTTP status of a refused statement: the caller lacks the authority it claims. */
const HTTP_FORBIDDEN = 403;
const HTTP_ACCEPTED = 202;

export function orderRoutes(app: Hono, deps: OrderDeps): void {
  app.post("/statements", async (c) => {
    let body: unknown;
    try {
      body = JSON.parse(await c.req.text());
    } catch (err) {
      throw new UmbraError("request_invalid", `the body is not JSON: ${(err as Error).message}; it must be a signed statement (umbra move, failover, standby, unstandby, maintenance make one)`);
    }
    const a = await deps.submit(body);
    if (!a.ok) return c.json({ error: `statement refused (${a.reason}): ${a.detail}`, code: "statement_refused", reason: a.reason }, HTTP_FORBIDDEN);
    return c.json({ accepted: true, order: a.order, outcome: a.outcome }, HTTP_ACCEPTED); // the CLI's Accepted
  });
  app.get("/services/:service/audit", (c) => {
    const service = c.req.param("service");
    const entries = deps.audit(service);
    if (entries === null) throw new UmbraError("service_unknown", `this host keeps no replica of a service "${service}": ask a host that is its primary or one of its shadows`);
    return c.json({ service, entries });
  });
}

/** Audit entries oldest first: by issue time, then the host that recorded it. */
export function sortAudit(entries: Iterable<AuditEntry>): AuditEntry[] {
  return [...entries].sort((a, b) => a.issuedAtMs - b.issuedAtMs || a.nonce.localeCompare(b.nonce) || a.host.localeCompare(b.host));
}
