// A timeout that judges the other end, not this process.

/**
 * Calls `f` once `ms` have passed and the event loop has then polled its
 * I/O once. Node runs due timers before it reads I/O, so after a stall of
 * this process (CPU steal, a busy machine) a plain timeout fires before an
 * answer that arrived during the stall is read: the stall of its own would
 * be judged the other end's silence. Clearing the timer stops `f` only
 * before `ms` have passed: `f` checks whether it is still wanted.
 */
export function afterIoPoll(ms: number, f: () => void): NodeJS.Timeout {
  return setTimeout(() => setImmediate(f), ms);
}
