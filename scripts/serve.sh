#!/usr/bin/env bash
# One command to start voiceroom with a demo room: installs what is missing, then serves.
# Extra arguments go to `voiceroom serve` (e.g. --port 9000, --host 0.0.0.0).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VOICEROOM_WITH_BROWSER=0 source "$ROOT/scripts/bootstrap.sh"
# The demo's links, and the sessions of everyone in the room, outlive a restart only if the
# secret does: without VOICEROOM_SECRET, one is made once and kept beside the data
# (var/demo-secret, readable by this user only). Production sets its own.
if [ -z "${VOICEROOM_SECRET:-}" ]; then
  secret_file="$ROOT/var/demo-secret"
  if [ ! -s "$secret_file" ]; then
    mkdir -p "$ROOT/var"
    (umask 077 && "$ROOT/.venv/bin/python" -c "import secrets; print(secrets.token_hex(32))" > "$secret_file")
  fi
  VOICEROOM_SECRET="$(cat "$secret_file")"
  export VOICEROOM_SECRET
fi
exec "$ROOT/.venv/bin/voiceroom" serve --demo "$@"
