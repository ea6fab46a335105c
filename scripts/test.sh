#!/usr/bin/env bash
# The whole suite, as `npm test` and CI run it: every test file under bun,
# with the spin model check (test/model.slow.test.ts) beside the rest rather
# than after it.
#
# The model check is CPU work alone (about 18 min of CPU on this kind of
# machine); the rest of the suite is mostly real agents waiting on real time
# and leaves a core and more idle. So the model check runs at the same time,
# under SCHED_IDLE (chrt --idle 0, inherited by spin's verifiers): it gets
# only the CPU time nothing else wants, and cannot delay an agent or a probe
# of the scenario tests. Run one after the other, the suite took 20-21 min
# on CI (session 22), 9-10 min of it the model check.
#
#   bash scripts/test.sh [bun test options and filters for the main run]
#
# Exits 0 only if both runs pass. The model check's output follows the main
# run's. With a filter (arguments given), only the main run runs.
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bun="$root/node_modules/.bin/bun"
[ -x "$bun" ] || bun="bun"
model_test="test/model.slow.test.ts"
# Beyond bun's own default: scenario tests spawn real agents in namespaces.
timeout_ms=180000

if [ "$#" -gt 0 ]; then
  exec "$bun" test --timeout "$timeout_ms" "$@"
fi

log="$(mktemp "${TMPDIR:-/tmp}/umbra-model-test.XXXXXX")"
model_pgid=""
main_pid=""
cleanup() {
  # The model check's whole group (bun, check-model.sh, spin's verifiers), even
  # after its bun has exited: a verifier must not outlive the suite.
  [ -z "$model_pgid" ] || kill -- "-$model_pgid" 2>/dev/null
  [ -z "$main_pid" ] || kill "$main_pid" 2>/dev/null
  rm -f "$log"
}
trap cleanup EXIT
trap 'echo "test.sh: interrupted" >&2; exit 130' INT
trap 'echo "test.sh: terminated" >&2; exit 143' TERM

# Where SCHED_IDLE is refused (a container's seccomp policy), the lowest nice level instead.
idle=(chrt --idle 0)
"${idle[@]}" true 2>/dev/null || idle=(nice -n 19)
# setsid: its own process group, so cleanup stops every verifier with it (a
# background job of a script is no group leader, so setsid does not fork:
# its pid is the group's id).
setsid -w "${idle[@]}" "$bun" test --timeout "$timeout_ms" "$model_test" >"$log" 2>&1 &
model_pgid=$!

# The main run in the background too, so an interrupt reaches the traps at once.
"$bun" test --timeout "$timeout_ms" --path-ignore-patterns "$model_test" &
main_pid=$!
wait "$main_pid"
main_rc=$?
main_pid=""

echo
echo "test.sh: the main run exited $main_rc; waiting for the model check ($model_test, under ${idle[*]})..."
wait "$model_pgid"
model_rc=$?
cat "$log"
echo "test.sh: main run exit $main_rc, model check exit $model_rc"
[ "$main_rc" -eq 0 ] && [ "$model_rc" -eq 0 ]
