#!/usr/bin/env bash
# Installs the system tools umbra's demo, tests and benchmarks use, from
# Debian's packages, only when missing: iproute2 (ip netns) and iputils-arping
# (gratuitous ARP); with --bench also keepalived (the benchmark's anchor).
# Idempotent; a fast no-op when everything is present.
set -euo pipefail
need=()
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v arping >/dev/null 2>&1 || need+=(iputils-arping)
command -v sysctl >/dev/null 2>&1 || need+=(procps)
if [ "${1:-}" = "--bench" ]; then
  command -v keepalived >/dev/null 2>&1 || [ -x /usr/sbin/keepalived ] || need+=(keepalived)
fi
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "umbra: missing ${need[*]}; install them as root (apt-get install ${need[*]}) or run this as root" >&2
  exit 1
fi
echo "umbra: installing ${need[*]} from Debian's packages..." >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
echo "umbra: installed ${need[*]}" >&2
