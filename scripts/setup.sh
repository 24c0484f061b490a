#!/usr/bin/env bash
# Installs what pq needs on a fresh machine (Node, Debian): Deno, pinned here
# and nowhere else.
set -euo pipefail
DENO_VERSION=2.9.6

if ! command -v deno >/dev/null 2>&1 || [ "$(deno --version | head -n1 | cut -d' ' -f2)" != "$DENO_VERSION" ]; then
  echo "Installing deno $DENO_VERSION from npm..." >&2
  npm install -g --allow-scripts=deno "deno@$DENO_VERSION" >&2 || npm install -g "deno@$DENO_VERSION" >&2
fi
