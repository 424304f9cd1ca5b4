#!/usr/bin/env bash
# The system packages the tests need and PyPI does not have: Debian's PostgreSQL server, for the multi-machine
# tests (they start a throwaway server of their own), and Debian's Chromium with fonts (Latin, and a small Chinese
# one so that the screenshots show prompts and dialogue rather than boxes), for the playground's browser tests
# (Playwright drives /usr/bin/chromium: `playwright install` would download a browser, which cannot work here). Installed with apt-get when missing; nothing is done when they are already there. Needs root (or sudo) the
# first time.
set -euo pipefail

have_postgres() { compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; }
have_chromium() { [ -x /usr/bin/chromium ]; }
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"; }

missing=()
have_postgres || missing+=(postgresql)
have_chromium || missing+=(chromium)
for font in fonts-liberation fonts-wqy-microhei; do
    installed "$font" || missing+=("$font")
done
if [ "${#missing[@]}" = 0 ]; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then
    if command -v sudo >/dev/null; then SUDO="sudo"; else
        echo "missing and this user cannot install them: apt-get install -y ${missing[*]} (as root)" >&2
        exit 1
    fi
fi
echo "installing Debian's ${missing[*]} (for the multi-machine and browser tests)..." >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
# The postgresql package starts a cluster of its own on port 5432 where a service manager runs; the tests do not use it.
have_postgres
have_chromium
