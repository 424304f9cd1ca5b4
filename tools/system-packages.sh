#!/usr/bin/env bash
# The system packages the tests need and PyPI does not have: Debian's PostgreSQL server, for the multi-machine
# tests (they start a throwaway server of their own). Installed with apt-get when missing; nothing is done when it
# is already there. Needs root (or sudo) the first time.
set -euo pipefail

have_postgres() { compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; }

if have_postgres; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then
    if command -v sudo >/dev/null; then SUDO="sudo"; else
        echo "PostgreSQL is missing and this user cannot install it: apt-get install -y postgresql (as root)" >&2
        exit 1
    fi
fi
echo "installing Debian's postgresql (for the multi-machine tests)..." >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends postgresql
# The package starts a cluster of its own on port 5432 where a service manager runs; the tests do not use it.
have_postgres
