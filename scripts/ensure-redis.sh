#!/usr/bin/env bash
# The multi-host tests need a real redis-server (Debian's package). Install it when missing.
set -euo pipefail
if command -v redis-server >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "redis-server is missing: installing Debian's package" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  exit 0
fi
echo "redis-server is missing: install it (Debian/Ubuntu: sudo apt-get install redis-server) and run again" >&2
exit 1
