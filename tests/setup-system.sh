#!/usr/bin/env bash
# Installs the Debian packages the test suite needs: sshd and debootstrap for the SSH test fleet,
# apt-utils and dpkg-dev for its local apt repository, tini as PID 1 of plain fleet hosts,
# the shellcheck linter for ansible-test sanity, and iputils-ping for the probe module's ping
# tests (which ping loopback only), chromium and a Japanese font for the monthly report's test, and
# cron for the crontab schedules' test.
# Idempotent: apt runs only when a package is missing.
set -euo pipefail

packages=(shellcheck openssh-server openssh-client debootstrap apt-utils dpkg-dev tini iproute2 iputils-ping util-linux procps rsync zstd git make chromium fonts-ipafont-gothic cron)

missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f '${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup-system: missing Debian packages: ${missing[*]}; install them as root (apt-get install ${missing[*]})" >&2
    exit 1
  fi
  echo "setup-system: installing ${missing[*]}"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
  # matplotlib keeps a font list; one made before the Japanese font came would miss it.
  rm -rf "${HOME}/.cache/matplotlib"
fi
# The fleet's hosts boot from a cached Debian tree: build it now so the first test does not wait.
"$(dirname "$0")/fleet/fleet" rootfs >/dev/null
