#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: installs what it needs first
# (Deno, and Debian's redis-server for the Redis tests, chromium for the
# dashboard's browser test, prometheus and promtool for the metrics tests,
# openssl for the TLS test's certificates:
# those tests fail without them, none is skipped).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
MISSING=""
command -v redis-server >/dev/null 2>&1 || MISSING="$MISSING redis-server"
[ -x /usr/bin/chromium ] || MISSING="$MISSING chromium"
command -v prometheus >/dev/null 2>&1 || MISSING="$MISSING prometheus"
command -v openssl >/dev/null 2>&1 || MISSING="$MISSING openssl"
if [ -n "$MISSING" ]; then
  echo "Installing$MISSING from Debian..." >&2
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update >&2
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y $MISSING >&2
fi
deno task test
