import { UmbraError } from "./errors.ts";

/** "host:port" or "[v6addr]:port". */
export function parseHostPort(s: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(s) ?? /^([^:[\]]+):(\d+)$/.exec(s);
  const port = m === null ? NaN : Number(m[2]);
  if (m === null || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new UmbraError("usage", `"${s}" is not host:port (IPv6 as [addr]:port)`, { value: s });
  }
  return { host: m[1]!, port };
}
