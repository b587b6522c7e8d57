#!/usr/bin/env bash
# One command to run the whole test suite: installs what is missing (Debian packages,
# virtualenv, Python deps, headless Chromium), then lints, type-checks and runs pytest.
# Extra arguments go to pytest (e.g. -k queue, -m "not browser").
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/bootstrap.sh"
cd "$ROOT"
echo "== ruff" && .venv/bin/ruff check voiceroom tests scripts && .venv/bin/ruff format --check voiceroom tests scripts
echo "== mypy" && .venv/bin/mypy
echo "== pytest" && exec .venv/bin/python -m pytest "$@"
