#!/usr/bin/env bash
# Start the hub for `make run`: the web server, and beside it what a real deployment runs
# (the scheduler), plus two development stand-ins: an OpenID provider for Northbridge Police
# (when Node.js is present) and a mail sink that prints notifications. Ctrl-C stops them all.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
INSTANCE=${HUB_INSTANCE_PATH:-instance}
pids=()
cleanup() {
  for pid in "${pids[@]:-}"; do
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  done
}
trap cleanup EXIT INT TERM
mkdir -p "$INSTANCE"

if command -v node >/dev/null 2>&1 && [ -d tools/dev-idp/node_modules ]; then
  IDP_PORT=9000 IDP_CONFIG=tools/dev-idp/northbridge.json \
    IDP_KEYS_FILE="$INSTANCE/dev-idp-keys.json" \
    node tools/dev-idp/server.mjs > "$INSTANCE/dev-idp.log" 2>&1 &
  pids+=($!)
  echo "Development identity provider for Northbridge Police: http://127.0.0.1:9000"
fi
# The demo client's secret, as northbridge.json gives it to the development provider.
export HUB_DEMO_IDP_SECRET=northbridge-demo-idp-secret

# Notifications go to a local mail sink that prints each message (no e-mail leaves here).
"$BIN/python" -m aiosmtpd -n -l 127.0.0.1:1025 > "$INSTANCE/mail.log" 2>&1 &
pids+=($!)
echo "E-mail notifications are printed to $INSTANCE/mail.log (SMTP sink on 127.0.0.1:1025)"

"$BIN/hub" scheduler > "$INSTANCE/scheduler.log" 2>&1 &
pids+=($!)
echo "The scheduler (reminders, escalation, ledger checkpoints) logs to $INSTANCE/scheduler.log"

echo
echo "MARAC Hub is starting on http://127.0.0.1:5000 (Ctrl-C to stop)."
echo "Sign in with any demo account printed above."
echo
"$BIN/hub" serve --host 127.0.0.1 --port 5000
