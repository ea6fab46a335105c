// `umbra status`: asks the local agent's API for its status document and
// prints it, raw (--json) or as tables. Every failure is an UmbraError with
// a message that says what to check.
import { UmbraError } from "../shared/errors.ts";
import type { StatusDoc } from "../api/index.ts";
import { formatStatus } from "./statusTable.ts";

/** The local agent must answer within this; it answers from memory, in well under a millisecond. */
export const STATUS_TIMEOUT_MS = 2_000;

export type StatusOptions = {
  /** The agent API's host:port ([v6addr]:port). */
  api: string;
  /** Print the document as JSON instead of tables. */
  json: boolean;
  timeoutMs?: number;
  /** Where the output goes; stdout unless a test catches it. */
  write?: (text: string) => void;
};

export async function runStatus(o: StatusOptions): Promise<void> {
  const timeoutMs = o.timeoutMs ?? STATUS_TIMEOUT_MS;
  const write = o.write ?? ((t: string) => void process.stdout.write(t));
  const doc = await fetchStatus(o.api, timeoutMs);
  write(o.json ? JSON.stringify(doc, null, 2) + "\n" : formatStatus(doc));
}

async function fetchStatus(api: string, timeoutMs: number): Promise<StatusDoc> {
  const url = `http://${api}/status`;
  let body: unknown;
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    body = await res.json().catch((err: unknown) => {
      if (err instanceof Error && err.name === "TimeoutError") throw err;
      throw new UmbraError("api_unreachable", `${api} did not answer ${res.status} with JSON: is it an umbra agent API? (see --api)`, { url, status: res.status }, err);
    });
  } catch (err) {
    if (err instanceof UmbraError) throw err;
    if (err instanceof Error && err.name === "TimeoutError") {
      throw new UmbraError("api_unreachable", `the umbra agent API at ${api} did not answer within ${timeoutMs} ms (is the agent stuck? its log may say)`, { url, timeoutMs }, err);
    }
    throw new UmbraError("api_unreachable", `cannot reach the umbra agent API at ${api} (is the agent running? see --api)`, { url }, err);
  }
  if (!res.ok) {
    const why = typeof (body as { error?: unknown })?.error === "string" ? (body as { error: string }).error : `status ${res.status}`;
    throw new UmbraError("api_unreachable", `the umbra agent API at ${api} answered ${res.status}: ${why}`, { url, status: res.status });
  }
  if (!isStatusDoc(body)) {
    throw new UmbraError("api_unreachable", `${api} answered, but not with an umbra status document: is it an umbra agent API? (see --api)`, { url });
  }
  return body;
}

/** Enough of the shape that formatting cannot trip over a stranger's JSON. */
function isStatusDoc(x: unknown): x is StatusDoc {
  const d = x as Partial<StatusDoc> | null;
  return typeof d === "object" && d !== null && typeof d.host === "string" && typeof d.nowMs === "number" && Array.isArray(d.members) && Array.isArray(d.services);
}
