#!/usr/bin/env bash
# Installs what voiceroom needs, idempotently: Debian packages (when missing), a virtualenv
# in .venv, and the Python dependencies. Sourced by scripts/serve.sh and scripts/test.sh.
#   VOICEROOM_SKIP_APT=1   do not touch system packages
#   VOICEROOM_WITH_BROWSER=0  skip chromium (the server needs none; the browser test does)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PY="${PYTHON:-python3}"

need_apt=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
# postgresql: the store's tests run on a real PostgreSQL (scripts/pg_test.sh).
want_pkgs=(libopus0 espeak-ng sox postgresql)
if [ "${VOICEROOM_WITH_BROWSER:-1}" = "1" ]; then want_pkgs+=(chromium fonts-noto-core); fi
for p in "${want_pkgs[@]}"; do have_pkg "$p" || need_apt+=("$p"); done
if [ "${#need_apt[@]}" -gt 0 ] && [ "${VOICEROOM_SKIP_APT:-0}" != "1" ]; then
  echo "bootstrap: installing Debian packages: ${need_apt[*]}" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >&2
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "bootstrap: creating virtualenv in $VENV" >&2
  "$PY" -m venv "$VENV"
fi
# Reinstall only when pyproject.toml changed since the last successful install.
stamp="$VENV/.voiceroom-installed"
hash="$(sha256sum "$ROOT/pyproject.toml" | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$hash" ]; then
  echo "bootstrap: installing Python dependencies" >&2
  "$VENV/bin/python" -m pip install -q --upgrade pip >&2
  "$VENV/bin/python" -m pip install -q -e "$ROOT[test]" >&2
  echo "$hash" > "$stamp"
fi

# The web client's JavaScript dependencies are vendored (clients/web/vendor/, see
# docs/adr/0003-web-msgpack.md): the page needs nothing from npm. Installing the pinned
# packages lets clients/web/test/vendor.test.mjs check the copy byte for byte.
if command -v npm >/dev/null 2>&1 && [ "${VOICEROOM_SKIP_NPM:-0}" != "1" ]; then
  npm_stamp="$ROOT/node_modules/.voiceroom-lock"
  lock_hash="$(sha256sum "$ROOT/package-lock.json" | cut -d' ' -f1)"
  if [ ! -f "$npm_stamp" ] || [ "$(cat "$npm_stamp")" != "$lock_hash" ]; then
    echo "bootstrap: installing the web client's npm packages (npm ci)" >&2
    if (cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error >&2); then
      echo "$lock_hash" > "$npm_stamp"
    else
      echo "bootstrap: npm ci failed (offline?); the page still works from its vendored copy" >&2
    fi
  fi
fi
