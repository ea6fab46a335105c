#!/usr/bin/env bash
# Installs the system tools umbra's demo, tests and benchmarks use, from
# Debian's packages, only when missing: iproute2 (ip netns, bridge),
# iputils-arping (gratuitous ARP), iputils-ping (the tests' client), procps (sysctl), util-linux (chrt) and
# nftables (the kernel-side lease: the VIP fence), prometheus (promtool),
# chromium (the dashboard test's headless browser), systemd (systemd-notify
# for Type=notify, systemd-analyze for the unit's test) and python3 (the
# notification test's stand-in for systemd's socket); with --bench also
# keepalived (the benchmark's anchor), stress-ng (bench/chaos's CPU load) and
# tcpdump (bench/handover --capture).
# Idempotent; a fast no-op when everything is present. Not root and
# something missing: says what to install and exits 1.
#
#   bash scripts/ensure-system.sh [--bench]
set -euo pipefail

bench=0
case "${1:-}" in
  "") ;;
  --bench) bench=1 ;;
  *) echo "usage: bash scripts/ensure-system.sh [--bench]" >&2; exit 2 ;;
esac

# Look where root's tools live too: a non-root PATH often lacks /usr/sbin.
have() { PATH="$PATH:/usr/sbin:/sbin" command -v "$1" >/dev/null 2>&1; }

missing() {
  local need=()
  have ip || need+=(iproute2)
  have bridge || need+=(iproute2)
  have arping || need+=(iputils-arping)
  have ping || need+=(iputils-ping) # the VIP tests ping the VIP from a client namespace
  have sysctl || need+=(procps)
  have chrt || need+=(util-linux) # the agent runs SCHED_RR (config realtime)
  have taskset || need+=(util-linux) # the armed gratuitous-ARP shells are pinned to a CPU each
  have nft || need+=(nftables) # the kernel-side lease fences the VIP with nftables
  have promtool || need+=(prometheus) # the metrics test checks /metrics with promtool
  have chromium || need+=(chromium) # the dashboard test drives Debian's headless chromium (playwright-core, no browser download)
  have systemd-notify || need+=(systemd) # the agent's readiness and watchdog under systemd; the unit's test runs systemd-analyze
  have systemd-analyze || need+=(systemd)
  have systemctl || need+=(systemd) # umbra install reloads systemd
  have python3 || need+=(python3) # the notification test binds systemd's kind of socket with it; bench/handover's kernel watcher
  have strip || need+=(binutils) # npm run build strips Node's symbols from the executable
  have unshare || need+=(util-linux) # the executable's test runs it in a mount namespace where no node is reachable
  if [ "$bench" -eq 1 ]; then have keepalived || need+=(keepalived); have stress-ng || need+=(stress-ng); have tcpdump || need+=(tcpdump); fi # tcpdump: bench/handover --capture
  [ ${#need[@]} -eq 0 ] || printf '%s\n' "${need[@]}" | sort -u | paste -sd' '
}

need="$(missing)"
[ -z "$need" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "umbra: missing Debian packages: ${need}" >&2
  echo "umbra: install them as root (apt-get install ${need}) or run this script as root" >&2
  exit 1
fi
echo "umbra: installing ${need} from Debian's packages..." >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086 # $need is a space-separated list of package names
apt-get install -y -qq --no-install-recommends $need >/dev/null
still="$(missing)"
if [ -n "$still" ]; then
  echo "umbra: still missing after apt-get install: ${still}" >&2
  exit 1
fi
echo "umbra: installed ${need}" >&2
