// POST /services/SERVICE/move: an operator asks the agent holding a service
// to hand it over in person to another of its candidates (a planned move).
// The route only checks the request against this agent's status and queues
// the event; the host core decides (and ignores a move it cannot make).
import type { Hono } from "hono";
import { UmbraError } from "../shared/errors.ts";
import type { ServiceDoc, StatusDoc } from "./types.ts";

/** What the route needs from the agent. */
export type MoveDeps = {
  status(): StatusDoc;
  /** Queues a move-requested event into the host core; returns at once. */
  move(service: string, to: string): void;
};

/** The 202 answer: the move was queued, not yet done (watch /status for the new holder). */
export type MoveAccepted = { accepted: true; service: string; to: string };

/** The quorum roles (ServiceDoc.state) in which this host may be asked to move a service. */
const ROLE_HOLDING = "holding";
const ROLE_HANDING_OVER = "handing-over";

export function moveRoutes(app: Hono, deps: MoveDeps): void {
  app.post("/services/:service/move", async (c) => {
    const service = c.req.param("service");
    const doc = deps.status();
    const svc = doc.services.find((s) => s.name === service);
    if (svc === undefined) throw new UmbraError("service_unknown", `no service "${service}" (services: ${doc.services.map((s) => s.name).join(", ") || "none"})`);
    const to = parseMoveBody(await c.req.text());
    checkMove(doc.host, svc, to);
    deps.move(service, to);
    const answer: MoveAccepted = { accepted: true, service, to };
    return c.json(answer, 202);
  });
}

/** `{"to": "HOST"}`. */
export function parseMoveBody(text: string): string {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    throw new UmbraError("request_invalid", `the body is not JSON: ${(err as Error).message}`);
  }
  const to = (body as { to?: unknown } | null)?.to;
  if (typeof to !== "string" || to === "") throw new UmbraError("request_invalid", 'the body must be {"to": "HOST"}: the host to move the service to');
  return to;
}

/** The move is one this host can make now: to another candidate, and this host holds the service. */
export function checkMove(self: string, svc: ServiceDoc, to: string): void {
  const candidates = [svc.primary, ...svc.shadows];
  if (!candidates.includes(to)) throw new UmbraError("request_invalid", `"${to}" is not a candidate for "${svc.name}" (candidates: ${candidates.join(", ")})`);
  if (svc.state === ROLE_HANDING_OVER) throw new UmbraError("move_in_progress", `${self} is already handing "${svc.name}" over; watch /status for the new holder`);
  if (svc.holder !== self || svc.state !== ROLE_HOLDING) {
    const holder = svc.holder;
    const where = holder === null ? "no holder is known here" : holder === self ? "it is certified here but has no valid lease: try again once it holds" : `${holder} holds it: ask ${holder}'s agent`;
    throw new UmbraError("not_holder", `${self} does not hold "${svc.name}" (its role here: ${svc.state}); ${where}`, { answer: { holder } });
  }
  if (to === self) throw new UmbraError("request_invalid", `${self} already holds "${svc.name}"`);
}
