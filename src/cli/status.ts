import { UmbraError } from "../shared/errors.ts";
import type { StatusDoc } from "../api/types.ts";
import { formatStatus } from "./statusTable.ts";

/** The local agent must answer within this. */
export const STATUS_TIMEOUT_MS = 2_000;

export async function runStatus(o: { api: string; json: boolean }): Promise<void> {
  const url = `http://${o.api}/status`;
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(STATUS_TIMEOUT_MS) });
  } catch (err) {
    throw new UmbraError("api_unreachable", `cannot reach the umbra agent API at ${o.api} (is the agent running? see --api)`, { url }, err);
  }
  if (!res.ok) throw new UmbraError("api_unreachable", `the agent API at ${o.api} answered ${res.status}`, { url });
  const doc = (await res.json()) as StatusDoc;
  process.stdout.write(o.json ? JSON.stringify(doc, null, 2) + "\n" : formatStatus(doc));
}
