// Reports every gap > 15 ms in a 1 ms busy-ish timer loop, with wall-clock end times.
const dur = Number(process.argv[2] ?? 20) * 1000;
const t0 = performance.now();
let last = t0; const gaps = [];
const iv = setInterval(() => {
  const now = performance.now();
  const g = now - last;
  if (g > 15) gaps.push({ g: +g.toFixed(1), endMs: Date.now() % 1000, at: +((now - t0) / 1000).toFixed(3) });
  last = now;
  if (now - t0 > dur) { clearInterval(iv); console.log(JSON.stringify({ n: gaps.length, gaps })); }
}, 1);
