#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: installs what it needs first
# (Deno, and Debian's redis-server for the Redis tests).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if ! command -v redis-server >/dev/null 2>&1; then
  echo "Installing redis-server from Debian..." >&2
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y redis-server >&2
fi
deno task test
