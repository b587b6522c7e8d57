#!/usr/bin/env bash
# One command to start voiceroom with a demo room: installs what is missing, then serves.
# Extra arguments go to `voiceroom serve` (e.g. --port 9000, --host 0.0.0.0).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VOICEROOM_WITH_BROWSER=0 source "$ROOT/scripts/bootstrap.sh"
exec "$ROOT/.venv/bin/voiceroom" serve --demo "$@"
