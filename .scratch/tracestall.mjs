// Reads an ftrace text dump (sched_switch/sched_wakeup) and, for the given
// pids (threads), reports every runnable-but-not-running wait > minMs, with
// what ran on each CPU during it.
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
const [file, pidsArg, minArg] = process.argv.slice(2);
const watch = new Set(pidsArg.split(",").map(Number));
const minMs = Number(minArg ?? 30);
const waitingSince = new Map(); // pid -> ts
const running = new Map(); // cpu -> {pid, comm, prio, since}
const ran = []; // per cpu: list of [start,end,pid,comm,prio]
const out = [];
const reSw = /^\s*(.+?)-(\d+)\s+\[(\d+)\].*?\s([\d.]+): sched_switch: prev_comm=(.*?) prev_pid=(\d+) prev_prio=(\d+) prev_state=(\S+) ==> next_comm=(.*?) next_pid=(\d+) next_prio=(\d+)/;
const reWk = /\s([\d.]+): sched_wakeup(?:_new)?: comm=(.*?) pid=(\d+) prio=(\d+) target_cpu=(\d+)/;
const rl = createInterface({ input: createReadStream(file) });
for await (const line of rl) {
  let m = reSw.exec(line);
  if (m) {
    const cpu = +m[3], ts = +m[4], prevPid = +m[6], prevState = m[8], nextPid = +m[10];
    const r = running.get(cpu);
    if (r) (ran[cpu] ??= []).push([r.since, ts, r.pid, r.comm, r.prio]);
    running.set(cpu, { pid: nextPid, comm: m[9], prio: +m[11], since: ts });
    if (watch.has(prevPid) && (prevState === "R" || prevState === "R+")) waitingSince.set(prevPid, ts);
    if (watch.has(nextPid) && waitingSince.has(nextPid)) {
      const w = (ts - waitingSince.get(nextPid)) * 1000;
      if (w > minMs) out.push({ pid: nextPid, from: waitingSince.get(nextPid), to: ts, ms: +w.toFixed(1) });
      waitingSince.delete(nextPid);
    }
    continue;
  }
  m = reWk.exec(line);
  if (m && watch.has(+m[3]) && !waitingSince.has(+m[3])) waitingSince.set(+m[3], +m[1]);
}
for (const o of out) {
  const by = {};
  for (const [cpu, list] of ran.entries()) for (const [s, e, pid, comm, prio] of list ?? []) {
    const ov = Math.min(e, o.to) - Math.max(s, o.from);
    if (ov > 0) { const k = `cpu${cpu} ${comm}/${pid} p${prio}`; by[k] = (by[k] ?? 0) + ov * 1000; }
  }
  const top = Object.entries(by).sort((a, b) => b[1] - a[1]).slice(0, 6).map(([k, v]) => `${k}:${v.toFixed(0)}`);
  console.log(`${o.from.toFixed(3)} pid ${o.pid} waited ${o.ms} ms | ${top.join(" | ")}`);
}
console.log(`${out.length} waits > ${minMs} ms`);
