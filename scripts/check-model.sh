#!/usr/bin/env bash
# Model-checks umbra's quorum-and-lease protocol (model/quorum.pml, a model
# of src/decide/quorum.ts) with spin: the correct model must pass an
# exhaustive search with no errors and no truncation, each broken variant
# must be caught, and the known-unsafe configuration (a lost vote file, with
# nothing restricted) must still be caught, as model/README.md documents. Installs spin
# from Debian's packages when missing (needs root for that). Exits 0 only if
# every expectation holds.
#
#   bash scripts/check-model.sh [--full] [--help]
set -euo pipefail

usage() {
  cat <<'USAGE'
usage: bash scripts/check-model.sh [--full] [--help]

Runs spin on model/quorum.pml, each search exhaustive (6 to 12 min in
all by load, 9.3 GB at most; --full: see below, not yet re-measured for
session 6 or issue 14):
  correct                   epochs 1..2, handovers, one crash with or without
                            its vote file (a host that lost it only grants),
                            no lapsed renewals: must finish with 0 errors
                            and a complete search
  correct-lapsed            epochs 1..2, handovers and lapsed renewals, no
                            crash: likewise
  broken-double-vote        a voter signs two proposals of one epoch
  broken-no-grant-wait      a voter votes while its lease grant runs
  broken-planned-vote       the old planned-vote rule: a voter signs a
                            handover whatever grant of its runs (epochs 1..3)
  broken-restart-grant      after a restart a voter grants at once, before
                            its restart wait (with vote-file loss)
  broken-adopt-grant-epoch  adopting a certificate that carries the voter's
                            vote relabels its running grant as one to that
                            epoch (with vote-file loss)
  broken-resend-vote        a voter re-sends a vote whatever grant of its runs
  broken-exempt-slot        a planned vote's grant forgets the grant it overrode
  broken-lapsed-early       a holder says it lapsed while its lease may run
  broken-lapsed-keeps-renewals
                            a lapsed holder still counts grants for the
                            renewals it sent before the lapsed one
  broken-lapsed-any-seq     a voter forgets its grant to the lapsed process
                            even for a renewal sent after the lapsed one
                            (quorum.ts as of 0db6096: model/README.md)
  vote-file-loss-any        no bug injected: a host that lost its vote file
                            may vote and hold again, as in quorum.ts; known
                            unsafe (model/README.md), must still be caught
Every broken-* run and vote-file-loss-any must be caught.
--full checks epochs 1..3: the correct model without crashes, and with one
crash but no handovers; with LEASE=2 at epochs 1..2; every broken variant at
epochs 1..3 (about 11 min, 7.1 GB at most; model/README.md has the figures).
Prints one line per run (states, memory, seconds, result) and exits 0 only
if all expectations hold; 1 otherwise; 2 on a usage error.
Installs spin (Debian package `spin`) if missing, which needs root.
Environment: PAN_MEMLIM_MB (default 10240; with --full 16384), the memory
bound of each search.
USAGE
}

full=0
case "${1:-}" in
  "") ;;
  --full) full=1 ;;
  -h|--help) usage; exit 0 ;;
  *) usage >&2; exit 2 ;;
esac

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
model="$root/model/quorum.pml"
if [ "$full" -eq 1 ]; then memlim_mb="${PAN_MEMLIM_MB:-16384}"; else memlim_mb="${PAN_MEMLIM_MB:-10240}"; fi
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
second_pid=""
trap '[ -z "$second_pid" ] || kill "$second_pid" 2>/dev/null; rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

# run NAME EXPECT EMAX HASH_LOG2 GCC_OPT [spin -D flags...]; EXPECT is pass,
# fail (a broken variant) or known (a documented unsafe configuration).
# GCC_OPT: -O1 for long searches, -O0 (compiles in half the time) for short ones.
run() {
  local name="$1" expect="$2" emax="$3" hash_log2="$4" opt="$5"; shift 5
  local dir="$work/$name"
  mkdir -p "$dir"
  cp "$model" "$dir/quorum.pml"
  local t0 t1 secs out states mem errors result
  t0="$(date +%s.%N)"
  ( cd "$dir" && spin -a -DEMAX="$emax" "$@" quorum.pml >spin.log 2>&1 ) || { echo "check-model: spin -a failed for $name:" >&2; cat "$dir/spin.log" >&2; touch "$dir/unexpected"; return; }
  # Exhaustive: no bitstate, no hash compaction. SAFETY: assertions and
  # invalid end states only (the properties are state invariants).
  ( cd "$dir" && gcc "$opt" -w -DSAFETY -DNOBOUNDCHECK -DMEMLIM="$memlim_mb" -o pan pan.c >gcc.log 2>&1 ) || { echo "check-model: gcc failed for $name:" >&2; cat "$dir/gcc.log" >&2; touch "$dir/unexpected"; return; }
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
  local caught=0
  if [ "$errors" != 0 ] && [ "$errors" != "?" ] && [ -n "$violation" ]; then caught=1; fi
  case "$expect" in
    pass)
      if [ "$errors" = 0 ] && [ "$truncated" -eq 0 ]; then result="PASS (0 errors, search complete)"
      else result="UNEXPECTED: ${errors} error(s), search truncated=${truncated} ${violation}"; touch "$dir/unexpected"; fi ;;
    fail)
      if [ "$caught" -eq 1 ]; then result="CAUGHT as expected: ${violation}"
      else result="UNEXPECTED: the broken variant passed (${errors} errors, search truncated=${truncated})"; touch "$dir/unexpected"; fi ;;
    known)
      if [ "$caught" -eq 1 ]; then result="KNOWN UNSAFE, caught as documented: ${violation}"
      else result="UNEXPECTED: the known-unsafe configuration passed (${errors} errors, search truncated=${truncated}): update model/README.md"; touch "$dir/unexpected"; fi ;;
  esac
  printf 'model %-26s epochs=1..%s states=%-10s memory=%sMB time=%ss %s\n' "$name" "$emax" "$states" "$mem" "$secs" "$result"
  if [ "$result" != "${result#UNEXPECTED}" ]; then sed -n '1,40p' "$out" >&2; fi
}

# The default run's second lane: the correct model with lapsed renewals,
# then the broken variants and the known-unsafe configuration.
second_lane() {
  run correct-lapsed           pass  2 25 -O1 -DCRASHMAX=0
  # The variants of the other rules run without lapsed renewals, as before
  # issue 14 (with them the search order changes and broken-no-grant-wait
  # took over 30 M states to find its story); those of issue 14 with them.
  run broken-double-vote       fail  2 20 -O0 -DNO_LAPSE -DBROKEN_DOUBLE_VOTE
  run broken-no-grant-wait     fail  2 22 -O1 -DNO_LAPSE -DBROKEN_NO_GRANT_WAIT
  # broken-planned-vote (epochs 1..3) runs with --full only since session 6:
  # with a re-named holder dropping its VIP, its session-5 story no longer
  # trips an assertion, and the search for the other one (two VIP holders)
  # passed 15 M states without a verdict. The old rule is shown caught by
  # src/sim/testdata/planned-vote-old-rule.txt.
  run broken-restart-grant     fail  2 22 -O0 -DNO_LAPSE -DVOTE_FILE_LOSS -DBROKEN_RESTART_GRANT
  # broken-adopt-grant-epoch is no longer a bug since session 6: relabelling
  # grantEpoch alone cannot pass the grant check, which names the holder too
  # (it searched past 35 M states without a finding); kept in --full only.
  run broken-resend-vote       fail  2 22 -O1 -DNO_LAPSE -DVOTE_FILE_LOSS -DBROKEN_RESEND_VOTE
  run broken-exempt-slot       fail  2 22 -O1 -DNO_LAPSE -DVOTE_FILE_LOSS -DBROKEN_EXEMPT_SLOT
  # issue 14, lapsed renewals: the holder's side (its lease over; no grant
  # for a renewal before the lapsed one counts) and the voter's (only a
  # grant for a renewal before it is forgotten: the finding in README)
  run broken-lapsed-early      fail  2 22 -O0 -DVOTE_FILE_LOSS -DBROKEN_LAPSED_EARLY
  run broken-lapsed-keeps-renewals fail 2 22 -O0 -DVOTE_FILE_LOSS -DBROKEN_LAPSED_KEEPS_RENEWALS
  run vote-file-loss-any       known 2 20 -O0 -DNO_LAPSE -DVOTE_FILE_LOSS_ANY
}

if [ "$full" -eq 0 ]; then
  # Two lanes on two cores. Run one after the other, the whole took 14 min
  # on CI (session 19); in two lanes, 9.3 GB and 3.7 GB at most at once.
  # Lane one: the correct model with a crash and vote-file loss, the longest
  # and largest search. Lane two, in the background: the correct model with
  # lapsed renewals (issue 14), then every broken variant (each caught after
  # a small search). A failure is counted by its marker file (a background
  # lane's count would be lost). Lapsed renewals with a crash and vote-file
  # loss as well are over 59 M states (more than 12 GB; model/README.md):
  # the default run checks the correct model without them, and with them
  # but no crash.
  second_lane > "$work/second-lane.out" 2>&1 &
  second_pid=$!
  run correct                  pass  2 25 -O1 -DVOTE_FILE_LOSS -DNO_LAPSE
  # Lane two takes about 35 s longer (session 22: 681 s against 616 s, both
  # lanes loaded): one of its variants runs here, after the correct model.
  run broken-lapsed-any-seq    fail  2 22 -O0 -DVOTE_FILE_LOSS -DBROKEN_LAPSED_ANY_SEQ
  wait "$second_pid" || true
  second_pid=""
  cat "$work/second-lane.out"
else
  # Epochs 1..3 with a crash and handovers both is over 100 M states (more
  # than 19 GB): --full checks them in three parts instead.
  run correct-no-crash         pass  3 26 -O1 -DCRASHMAX=0
  run correct-no-handover      pass  3 26 -O1 -DNO_HANDOVER
  run correct-lease-2          pass  2 26 -O1 -DLEASE=2
  run broken-double-vote       fail  3 20 -O0 -DBROKEN_DOUBLE_VOTE
  run broken-no-grant-wait     fail  3 23 -O1 -DCRASHMAX=0 -DBROKEN_NO_GRANT_WAIT
  run broken-planned-vote      fail  3 22 -O0 -DCRASHMAX=0 -DBROKEN_PLANNED_VOTE
  run broken-restart-grant     fail  3 20 -O0 -DVOTE_FILE_LOSS -DBROKEN_RESTART_GRANT
  # without a crash, the 3-epoch story (a voter relabels its grant to a rival)
  run broken-adopt-grant-epoch fail  3 25 -O1 -DCRASHMAX=0 -DBROKEN_ADOPT_GRANT_EPOCH
  run vote-file-loss-any       known 3 20 -O0 -DVOTE_FILE_LOSS_ANY
fi

failures="$(find "$work" -name unexpected | wc -l)"
if [ "$failures" -ne 0 ]; then
  echo "check-model: FAILED: ${failures} run(s) did not meet expectations" >&2
  exit 1
fi
echo "check-model: ok: the model holds both invariants; every broken variant and the known-unsafe configuration are caught"
