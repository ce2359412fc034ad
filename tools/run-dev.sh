#!/usr/bin/env bash
# Start the hub for `make run`: the web server, and beside it the background processes a
# real deployment runs (the scheduler, and the development identity provider when Node.js
# is present). Ctrl-C stops them all.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
pids=()
cleanup() {
  for pid in "${pids[@]:-}"; do
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  done
}
trap cleanup EXIT INT TERM

if [ -x "$BIN/hub" ] && "$BIN/hub" scheduler --help >/dev/null 2>&1; then
  "$BIN/hub" scheduler &
  pids+=($!)
fi

echo
echo "MARAC Hub is starting on http://127.0.0.1:5000 (Ctrl-C to stop)."
echo "Sign in with any demo account printed above."
echo
"$BIN/hub" serve --host 127.0.0.1 --port 5000
