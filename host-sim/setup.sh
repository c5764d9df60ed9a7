#!/usr/bin/env bash
# Installs what the simulator needs on a fresh Debian 12 machine with Node 20, run as root (as CI
# is): Debian packages for the job ("demo" or "test"), then the npm packages from the lock file.
# Safe to run again: it installs only what is missing.
set -euo pipefail
job="${1:-test}"
cd "$(dirname "$0")/.."

debs=(openssl)
case "$job" in
  demo) ;;
  # chromium: the hub page is tested in a real browser (playwright-core drives /usr/bin/chromium).
  test) debs+=(mosquitto chromium) ;;
  *) echo "usage: host-sim/setup.sh demo|test" >&2; exit 2 ;;
esac

missing=()
for pkg in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing Debian packages: ${missing[*]} (run as root, or: sudo apt-get install -y ${missing[*]})" >&2
    exit 1
  fi
  echo "setup: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian starts a system-wide mosquitto on port 1883 when it installs the package; the tests start
# their own on free loopback ports and do not need it, so leave it as the system has it.

# @agoric/xsnap compiles Moddable's XS engine from source in its install script (~1 min).
if [ ! -x node_modules/@agoric/xsnap/xsnap-native/xsnap/build/bin/lin/release/xsnap-worker ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci (builds the XS engine on first install)"
  npm ci --no-audit --no-fund --loglevel=error
fi
