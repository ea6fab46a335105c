// bench/handover-frames: one timeline per trial of a `bench/handover.ts
// --debug-dir D --log-file D/agents.jsonl --capture` run, from what it kept:
// the agents' log lines, the frames (tcpdump on every bridge port and on the
// client's eth0, kernel timestamps), the client's neighbour events and its
// requests. Times in ms from the old holder's drop-vip.
//
//   node bench/handover-frames.ts DIR [--trial N]... [--summary]
//
// --summary: one line per trial (the figures that tell a late, lost or
// undone GARP apart); without it, every trial's whole timeline.

import { readFileSync, readdirSync, existsSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";

const VIP = "198.51.100.10";
const SERVICE = "web";
/** Frames and neighbour events shown from this long before the drop to this long after the add. */
const BEFORE_MS = 30;
const AFTER_MS = 150;

type Log = { ts: string; host: string; event: string; service?: string; why?: string; reason?: string; [k: string]: unknown };
type Frame = { t: number; port: string | null; dir: string | null; src: string; dst: string | null; text: string };
type Sample = { t: number; done: number; ok: boolean; err?: string; attempts?: number };

const { values, positionals } = parseArgs({ allowPositionals: true, options: { trial: { type: "string", multiple: true }, summary: { type: "boolean", default: false } } });
const dir = positionals[0];
if (dir === undefined) {
  process.stderr.write("usage: node bench/handover-frames.ts DIR [--trial N]... [--summary]\n");
  process.exit(2);
}

const logs: Log[] = readFileSync(join(dir, "agents.jsonl"), "utf8")
  .split("\n")
  .filter((l) => l !== "")
  .map((l) => JSON.parse(l) as Log);
const at = (l: Log) => Date.parse(l.ts);

/** tcpdump -tt -e -n text: "<epoch.us> [port dir ifindex N] src > dst, ..." (the switch's `-i any`), or "<epoch.us> src > dst, ..." (an interface). */
function frames(file: string): Frame[] {
  if (!existsSync(file)) return [];
  const out: Frame[] = [];
  for (const line of readFileSync(file, "utf8").split("\n")) {
    const any = /^(\d+\.\d+) (\S+)\s+(In|Out|B|M|P)\s+ifindex \d+ (\S+) ethertype (.*)$/.exec(line);
    if (any !== null) {
      out.push({ t: Number(any[1]) * 1000, port: any[2]!, dir: any[3]!, src: any[4]!, dst: null, text: any[5]! });
      continue;
    }
    const eth = /^(\d+\.\d+) (\S+) > (\S+), ethertype (.*)$/.exec(line);
    if (eth !== null) out.push({ t: Number(eth[1]) * 1000, port: null, dir: null, src: eth[2]!, dst: eth[3]!, text: eth[4]! });
  }
  return out;
}

/** The ARP part of a frame's text, shortened: "Request who-has X tell Y" / "Reply X is-at M". */
const arpOf = (text: string): string | null => {
  const m = /ARP \(0x0806\), length \d+: (.*), length \d+$/.exec(text);
  return m === null ? null : m[1]!.replace(" (ff:ff:ff:ff:ff:ff)", "");
};
/** The ARP's sender IP: "tell Y" of a request, X of a reply. */
const arpSender = (a: string): string | null => /tell (\S+)$/.exec(a)?.[1] ?? /^Reply (\S+) is-at/.exec(a)?.[1] ?? null;

const trials = readdirSync(dir)
  .map((f) => /^trial-(\d+)-client\.jsonl$/.exec(f)?.[1])
  .filter((x): x is string => x !== undefined)
  .map(Number)
  .sort((a, b) => a - b)
  .filter((n) => values.trial === undefined || values.trial.includes(String(n)));

/** Each host's MAC: the source of the ARP frames that enter the bridge from its port, in any trial's capture. */
const macOf = new Map<string, string>();
for (const f of readdirSync(dir).filter((x) => /^trial-\d+-sw\.txt$/.test(x)))
  for (const fr of frames(join(dir, f))) if (fr.dir !== "Out" && fr.port !== null && fr.port.startsWith("uh-")) macOf.set(fr.port.slice(3), fr.src);

/** A trial's move: the first drop-vip (a handover's, or a lease run out) after the client's first request of the trial. */
const dropOf = (n: number): Log | undefined => {
  const first = readFileSync(join(dir, `trial-${n}-client.jsonl`), "utf8").split("\n", 1)[0];
  if (first === undefined || first === "") return undefined;
  const since = (JSON.parse(first) as Sample).t;
  return logs.find((l) => l.event === "drop-vip" && l.service === SERVICE && at(l) >= since);
};

const fmt = (x: number | null) => (x === null ? "-" : x.toFixed(1));

for (const n of trials) {
  const drop = dropOf(n);
  if (drop === undefined) continue;
  const t0 = at(drop);
  const from = drop.host;
  const after = (host: string, event: string) => logs.find((l) => l.host === host && l.event === event && l.service === SERVICE && at(l) >= t0);
  const take = logs.find((l) => l.event === "take-vip" && l.service === SERVICE && at(l) >= t0 && l.host !== from);
  const to = take?.host ?? "?";
  const removed = after(from, "vip-removed");
  const added = after(to, "vip-added");
  const answering = after(to, "vip-answering");
  const addedAt = added === undefined ? t0 : at(added);
  const lo = t0 - BEFORE_MS;
  const hi = addedAt + AFTER_MS;

  const sw = frames(join(dir, `trial-${n}-sw.txt`));
  const cl = frames(join(dir, `trial-${n}-client.txt`));
  const hostOf = (mac: string) => [...macOf].find(([, m]) => m === mac)?.[0] ?? mac;
  const oldMac = macOf.get(from) ?? null;
  const newMac = macOf.get(to) ?? null;

  // ARP frames as they enter the bridge (one line per frame), in the window.
  const arpIn = sw.filter((f) => f.dir !== "Out" && f.port !== "br0" && f.t >= lo && f.t <= hi).map((f) => ({ ...f, arp: arpOf(f.text) ?? f.text }));
  const vipArp = arpIn.filter((f) => f.arp.includes(VIP));
  const garps = vipArp.filter((f) => arpSender(f.arp) === VIP);
  const firstGarp = garps.find((f) => f.src === newMac) ?? null;
  const clientArp = cl.filter((f) => f.text.startsWith("ARP") && f.t >= lo && f.t <= hi).map((f) => ({ ...f, arp: arpOf(f.text) ?? f.text }));
  const garpAtClient = clientArp.find((f) => f.src === newMac && arpSender(f.arp) === VIP) ?? null;

  // The client's SYNs to the VIP: which MAC each went to.
  const syns = cl.filter((f) => / > 198\.51\.100\.10\.\d+: Flags \[S\]/.test(f.text));
  const synsOld = syns.filter((f) => f.dst === oldMac && f.t >= t0);
  const synsNew = syns.filter((f) => f.dst === newMac && f.t >= t0);
  const lastOld = synsOld.length === 0 ? null : synsOld[synsOld.length - 1]!.t;
  const firstNew = synsNew.length === 0 ? null : synsNew[0]!.t;
  const synAcks = cl.filter((f) => /198\.51\.100\.10\.\d+ > .*Flags \[S\.\]/.test(f.text) && f.t >= t0);
  const firstAckNew = synAcks.find((f) => f.src === newMac)?.t ?? null;

  const samples: Sample[] = readFileSync(join(dir, `trial-${n}-client.jsonl`), "utf8")
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as Sample);
  const failed = samples.filter((s) => !s.ok && s.t >= t0 - 25 && s.t <= hi);

  const neigh = readFileSync(join(dir, `trial-${n}-neigh.txt`), "utf8")
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => ({ t: Number(l.split(" ")[0]), text: l.slice(l.indexOf(" ") + 1) }));
  const before = neigh.find((x) => x.text.startsWith("before the move"));

  // The scheduler (--trace): the new holder's armed shell woken, run, become arping.
  const schedFile = join(dir, `trial-${n}-sched.txt`);
  const sched = existsSync(schedFile)
    ? readFileSync(schedFile, "utf8")
        .split("\n")
        .filter((l) => l !== "")
        .map((l) => ({ t: Number(l.slice(0, l.indexOf(" "))), text: l.slice(l.indexOf(" ") + 1) }))
    : [];
  const exec = sched.find((x) => x.t >= addedAt - 5 && x.text.includes("sched_process_exec: filename=/usr/bin/arping"));
  const pid = exec === undefined ? null : /pid=(\d+)/.exec(exec.text)![1]!;
  const mine = pid === null ? [] : sched.filter((x) => x.text.includes(`pid=${pid} `) || x.text.includes(`-${pid} `) || x.text.includes(`next_pid=${pid} `) || x.text.endsWith(`pid=${pid}`));
  const woken = pid === null ? undefined : [...sched].reverse().find((x) => x.t <= exec!.t && x.text.includes(`sched_waking: comm=sh pid=${pid} `));
  const ran = woken === undefined ? undefined : sched.find((x) => x.t >= woken.t && x.text.includes(`next_pid=${pid} `));
  const stealFile = join(dir, `trial-${n}-steal.txt`);
  const steal = existsSync(stealFile) ? readFileSync(stealFile, "utf8").trim().replace(/^.*: /, "") : null;
  const rel = (t: number | null) => (t === null ? null : t - t0);
  const fired = logs.find((l) => l.host === to && l.event === "garp-fired" && at(l) >= addedAt);
  const sent = logs.find((l) => l.host === to && l.event === "garp-sent" && at(l) >= addedAt);
  if (values.summary) {
    process.stdout.write(
      `trial ${n} ${from}->${to}${drop.why === "handover" ? "" : ` (drop-vip why=${drop.why})`}: removed ${fmt(rel(removed === undefined ? null : at(removed)))} added ${fmt(rel(addedAt))} answering ${fmt(rel(answering === undefined ? null : at(answering)))} | GARP fired ${fmt(rel(fired === undefined ? null : at(fired)))}${sent?.armed === false ? " (FORKED)" : ""} ${sched.length === 0 ? "" : ` sh woken ${fmt(rel(woken?.t ?? null))} ran ${fmt(rel(ran?.t ?? null))} exec ${fmt(rel(exec?.t ?? null))}`} on wire ${fmt(rel(firstGarp?.t ?? null))} at client ${fmt(rel(garpAtClient?.t ?? null))} (${garps.length} VIP-sender frames: ${garps.map((g) => `${hostOf(g.src)}@${fmt(rel(g.t))}`).join(" ")}) | client SYNs: last to old ${fmt(rel(lastOld))} (${synsOld.length} after drop), first to new ${fmt(rel(firstNew))}, first SYN-ACK from new ${fmt(rel(firstAckNew))} | failed ${failed.length}${steal === null ? "" : ` | steal ticks ${steal}`} | state before: ${before?.text.replace(/^.* (\S+)$/, "$1") ?? "-"}\n`,
    );
    continue;
  }
  const rows: Array<[number, string]> = [];
  for (const l of logs) if (at(l) >= lo && at(l) <= hi && (l.service === SERVICE || l.event === "garp-sent" || l.event === "garp-fired" || l.event === "loop-stall")) rows.push([at(l), `log   ${l.host} ${l.event}${l.why === undefined ? "" : ` why=${l.why}`}${l.reason === undefined ? "" : ` reason=${l.reason}`}${l.ms === undefined ? "" : ` ms=${l.ms}`}${l.gapMs === undefined ? "" : ` gapMs=${l.gapMs}`}`]);
  for (const x of mine) if (x.t >= lo && x.t <= hi) rows.push([x.t, `sched ${x.text.replace(/\s+/g, " ")}`]);
  for (const f of arpIn) rows.push([f.t, `wire  ${f.port?.replace("uh-", "")} ${f.dir} ${hostOf(f.src)} ${f.arp}`]);
  for (const f of clientArp) rows.push([f.t, `cl-rx ${f.src === macOf.get("client") ? "sent" : "recv"} ${hostOf(f.src)} ${f.arp}`]);
  for (const x of neigh) if (x.t >= lo && x.t <= hi && !x.text.startsWith("before")) rows.push([x.t, `neigh ${x.text.replace(/lladdr (\S+)/, (_, m: string) => `lladdr ${hostOf(m)}`)}`]);
  // SYNs: a line per change of destination MAC, and the count in between.
  let run: { mac: string; first: number; last: number; count: number } | null = null;
  const flush = () => run !== null && rows.push([run.first, `syn   client -> ${hostOf(run.mac)} x${run.count} until ${fmt(rel(run.last))}`]);
  for (const f of syns.filter((s) => s.t >= lo && s.t <= hi)) {
    if (run !== null && run.mac === f.dst) {
      run.count++;
      run.last = f.t;
    } else {
      flush();
      run = { mac: f.dst!, first: f.t, last: f.t, count: 1 };
    }
  }
  flush();
  for (const s of failed) rows.push([s.t, `FAIL  request sent, ${s.attempts ?? 1} attempts, ${s.err ?? "not ok"}, done ${fmt(rel(s.done))}`]);
  rows.sort((a, b) => a[0] - b[0]);
  process.stdout.write(`\n=== trial ${n}: ${from} -> ${to} (drop-vip at ${drop.ts}, why=${drop.why}; old MAC ${oldMac}, new ${newMac}); client entry before the move: ${before?.text ?? "-"}\n`);
  for (const [t, text] of rows) process.stdout.write(`${fmt(t - t0).padStart(8)}  ${text}\n`);
}
