// `umbra status`: asks the local agent's API for its status document and
// prints it, raw (--json) or as tables. Every failure is an UmbraError with
// a message that says what to check.
import { UmbraError } from "../shared/errors.ts";
import type { StatusDoc } from "../api/index.ts";
import { formatStatus } from "./statusTable.ts";
import { apiJson, targetText, type ApiTarget } from "../apiclient/index.ts";

/** The local agent must answer within this; it answers from memory, in well under a millisecond. */
export const STATUS_TIMEOUT_MS = 2_000;

export type StatusOptions = {
  /** The agent's API. */
  target: ApiTarget;
  /** Print the document as JSON instead of tables. */
  json: boolean;
  timeoutMs?: number;
  /** Where the output goes; stdout unless a test catches it. */
  write?: (text: string) => void;
};

/** Prints the document; returns the services with no holder (the command exits 1 if any: a script's or a monitor's check). */
export async function runStatus(o: StatusOptions): Promise<string[]> {
  const timeoutMs = o.timeoutMs ?? STATUS_TIMEOUT_MS;
  const write = o.write ?? ((t: string) => void process.stdout.write(t));
  const doc = await fetchStatus(o.target, timeoutMs);
  write(o.json ? JSON.stringify(doc, null, 2) + "\n" : formatStatus(doc));
  return doc.services.filter((s) => s.holder === null).map((s) => s.name);
}

async function fetchStatus(t: ApiTarget, timeoutMs: number): Promise<StatusDoc> {
  const body = await apiJson(t, "GET", "/status", undefined, timeoutMs);
  if (!isStatusDoc(body)) {
    throw new UmbraError("api_unreachable", `${targetText(t)} answered, but not with an umbra status document: is it an umbra agent API? (see --api)`, {});
  }
  return body;
}

/** Enough of the shape that formatting cannot trip over a stranger's JSON. */
function isStatusDoc(x: unknown): x is StatusDoc {
  const d = x as Partial<StatusDoc> | null;
  return typeof d === "object" && d !== null && typeof d.host === "string" && typeof d.nowMs === "number" && Array.isArray(d.members) && Array.isArray(d.services);
}
