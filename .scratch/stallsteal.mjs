// 1 ms timer at whatever priority it is started with; records gaps > 15 ms and
// /proc/stat steal increments (per CPU) every 100 ms, with wall-clock times.
import { readFileSync } from "node:fs";
const dur = Number(process.argv[2] ?? 60) * 1000;
const steal = () => readFileSync("/proc/stat", "utf8").split("\n").filter((l) => /^cpu\d/.test(l)).map((l) => Number(l.split(/\s+/)[8]));
const t0 = performance.now();
let last = t0, lastSteal = steal(), lastCheck = t0;
const gaps = [], steals = [];
const iv = setInterval(() => {
  const now = performance.now();
  const g = now - last;
  if (g > 15) gaps.push({ g: +g.toFixed(1), wallEndMs: Date.now() % 1000, at: +((now - t0) / 1000).toFixed(3) });
  last = now;
  if (now - lastCheck >= 100) {
    const s = steal();
    const d = s.map((v, i) => v - lastSteal[i]);
    if (d.some((x) => x > 0)) steals.push({ at: +((now - t0) / 1000).toFixed(2), d });
    lastSteal = s; lastCheck = now;
  }
  if (now - t0 > dur) {
    clearInterval(iv);
    const tot = steals.reduce((a, x) => a + x.d.reduce((p, q) => p + q, 0), 0);
    console.log(JSON.stringify({ gaps: gaps.length, over40: gaps.filter((x) => x.g > 40).length, stealTicks: tot, stealEvents: steals.length }));
    console.log(JSON.stringify(gaps.filter((x) => x.g > 30)));
    console.log(JSON.stringify(steals.slice(0, 40)));
  }
}, 1);
