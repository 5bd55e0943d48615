#!/usr/bin/env bash
# The sql block's PostgreSQL tests start a throwaway server (tests/postgres_server.py) from
# PostgreSQL's own programs. Install them when they are missing and this machine can (root + apt);
# otherwise say so: those tests are then skipped, the rest of the suite runs.
set -uo pipefail
if command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing PostgreSQL for the sql block's PostgreSQL tests (apt-get)..." >&2
    if apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; then
        exit 0
    fi
fi
echo "PostgreSQL's server programs are not installed: the PostgreSQL tests will be skipped." >&2
echo "(Debian/Ubuntu: sudo apt install postgresql)" >&2
exit 0
