#!/usr/bin/env bash
# The push-store tests need PostgreSQL's server binaries (initdb, pg_ctl, postgres) to start a throwaway
# cluster (test/helpers/postgres.ts). Install Debian's package when they are missing; no cluster is started.
set -euo pipefail
have_server() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then return 0; fi
  done
  command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1
}
if have_server; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "PostgreSQL (initdb/pg_ctl) is missing: installing Debian's package" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  have_server && exit 0
  echo "installed postgresql but found no initdb/pg_ctl under /usr/lib/postgresql/*/bin" >&2
  exit 1
fi
echo "PostgreSQL is missing: install it (Debian/Ubuntu: sudo apt-get install postgresql) and run again" >&2
exit 1
