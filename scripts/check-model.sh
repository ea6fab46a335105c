#!/usr/bin/env bash
# Model-checks umbra's quorum-and-lease protocol (model/quorum.pml, a model
# of src/decide/quorum.ts) with spin: the correct model must pass an
# exhaustive search with no errors and no truncation, and each broken
# variant must be caught. Installs spin from Debian's packages when missing
# (needs root for that). Exits 0 only if all three expectations hold.
#
#   bash scripts/check-model.sh [--full] [--help]
set -euo pipefail

usage() {
  cat <<'USAGE'
usage: bash scripts/check-model.sh [--full] [--help]

Runs spin on model/quorum.pml three times, each an exhaustive search, with
epochs 1..2 (about 15 s); --full checks epochs 1..3 (about 2 min, 1.5 GB):
  correct                 must finish with 0 errors and a complete search
  -DBROKEN_DOUBLE_VOTE    a voter signs two proposals of one epoch: must fail
  -DBROKEN_NO_GRANT_WAIT  a voter votes while its lease grant runs: must fail
Prints one line per run (states, memory, seconds, result) and exits 0 only
if all three expectations hold; 1 otherwise; 2 on a usage error.
Installs spin (Debian package `spin`) if missing, which needs root.
Environment: PAN_MEMLIM_MB (default 8192), the memory bound of each search.
USAGE
}

emax=2
hash_log2=22   # 2^22 slots: enough for the ~0.6 M states of epochs 1..2
case "${1:-}" in
  "") ;;
  --full) emax=3; hash_log2=25 ;;   # ~8 M states
  -h|--help) usage; exit 0 ;;
  *) usage >&2; exit 2 ;;
esac

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
model="$root/model/quorum.pml"
memlim_mb="${PAN_MEMLIM_MB:-8192}"
[ -f "$model" ] || { echo "check-model: $model not found" >&2; exit 1; }

if ! command -v spin >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "check-model: spin is missing; install it as root (apt-get install -y spin) or run this script as root" >&2
    exit 1
  fi
  echo "check-model: installing spin from Debian's packages..." >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y spin >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y spin >/dev/null; }
fi
command -v gcc >/dev/null 2>&1 || { echo "check-model: gcc is missing (spin compiles its verifier with it)" >&2; exit 1; }

work="$(mktemp -d "${TMPDIR:-/tmp}/umbra-model.XXXXXX")"
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

failures=0

# run NAME EXPECT [spin -D flags...]; EXPECT is pass or fail.
run() {
  local name="$1" expect="$2"; shift 2
  local dir="$work/$name"
  mkdir -p "$dir"
  cp "$model" "$dir/quorum.pml"
  local t0 t1 secs out states mem errors result
  t0="$(date +%s.%N)"
  ( cd "$dir" && spin -a -DEMAX="$emax" "$@" quorum.pml >spin.log 2>&1 ) || { echo "check-model: spin -a failed for $name:" >&2; cat "$dir/spin.log" >&2; failures=$((failures + 1)); return; }
  # Exhaustive: no bitstate, no hash compaction. SAFETY: assertions and
  # invalid end states only (the properties are state invariants).
  ( cd "$dir" && gcc -O1 -w -DSAFETY -DMEMLIM="$memlim_mb" -o pan pan.c >gcc.log 2>&1 ) || { echo "check-model: gcc failed for $name:" >&2; cat "$dir/gcc.log" >&2; failures=$((failures + 1)); return; }
  ( cd "$dir" && ./pan -m1000000 -w"$hash_log2" >pan.log 2>&1 ) || true
  t1="$(date +%s.%N)"
  secs="$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')"
  out="$dir/pan.log"
  states="$(awk '/states, stored/ { print $1; exit }' "$out")"
  mem="$(awk '/total actual memory usage/ { print $1; exit }' "$out")"
  errors="$(sed -n 's/.*errors: \([0-9][0-9]*\).*/\1/p' "$out" | head -n 1)"
  : "${states:=?}" "${mem:=?}" "${errors:=?}"
  local truncated=0
  if grep -q -e "max search depth too small" -e "out of memory" -e "memory limit" "$out"; then truncated=1; fi
  local violation=""
  violation="$(grep -m1 -e "assertion violated" -e "invalid end state" "$out" | sed 's/^pan:[0-9]*: *//' || true)"
  if [ "$expect" = pass ]; then
    if [ "$errors" = 0 ] && [ "$truncated" -eq 0 ]; then result="PASS (0 errors, search complete)"
    else result="UNEXPECTED: ${errors} error(s), search truncated=${truncated} ${violation}"; failures=$((failures + 1)); fi
  else
    if [ "$errors" != 0 ] && [ "$errors" != "?" ] && [ -n "$violation" ]; then result="CAUGHT as expected: ${violation}"
    else result="UNEXPECTED: the broken variant passed (${errors} errors)"; failures=$((failures + 1)); fi
  fi
  printf 'model %-22s epochs=1..%s states=%-10s memory=%sMB time=%ss %s\n' "$name" "$emax" "$states" "$mem" "$secs" "$result"
  if [ "$result" != "${result#UNEXPECTED}" ]; then sed -n '1,40p' "$out" >&2; fi
}

run correct pass
run broken-double-vote fail -DBROKEN_DOUBLE_VOTE
run broken-no-grant-wait fail -DBROKEN_NO_GRANT_WAIT

if [ "$failures" -ne 0 ]; then
  echo "check-model: FAILED: ${failures} run(s) did not meet expectations" >&2
  exit 1
fi
echo "check-model: ok: the model holds both invariants; both broken variants are caught"
