#!/usr/bin/env bash
# One command to run the whole test suite: installs what is missing (Debian packages,
# virtualenv, Python deps, headless Chromium), then lints, type-checks and runs pytest.
# Extra arguments go to pytest (e.g. -k queue, -m "not browser").
# The store's tests run on a real PostgreSQL: a throw-away cluster is started here
# (scripts/pg_test.sh) and removed on exit, unless VOICEROOM_TEST_POSTGRES_URL is already
# set (an existing test database) or VOICEROOM_TEST_POSTGRES=0.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/bootstrap.sh"
cd "$ROOT"
echo "== ruff" && .venv/bin/ruff check voiceroom tests scripts && .venv/bin/ruff format --check voiceroom tests scripts
echo "== mypy" && .venv/bin/mypy
if [ -z "${VOICEROOM_TEST_POSTGRES_URL:-}" ] && [ "${VOICEROOM_TEST_POSTGRES:-1}" = "1" ]; then
  source "$ROOT/scripts/pg_test.sh"
  trap pg_test_stop EXIT
  # A cluster that will not start is reported here; the PostgreSQL tests then skip
  # (and fail under CI=true).
  pg_test_start || echo "test.sh: PostgreSQL did not start: its tests will skip" >&2
fi
echo "== pytest"
# Not exec: the trap above must run to stop PostgreSQL.
.venv/bin/python -m pytest "$@"
