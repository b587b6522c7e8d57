#!/usr/bin/env bash
# Installs what voiceroom needs, idempotently: Debian packages (when missing), a virtualenv
# in .venv, and the Python dependencies. Sourced by scripts/serve.sh and scripts/test.sh.
#   VOICEROOM_SKIP_APT=1   do not touch system packages
#   VOICEROOM_WITH_BROWSER=0  skip chromium (the server needs none; the browser test does)
#   VOICEROOM_WITH_NET_TOOLS=0  skip what the network tests run (tests/net: coturn, nftables,
#                               iproute2, nginx, certutil); defaults to VOICEROOM_WITH_BROWSER
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PY="${PYTHON:-python3}"

# The console gets one line per step; apt's and pip's full output goes to this log.
mkdir -p "$ROOT/var"
BOOT_LOG="$ROOT/var/bootstrap.log"
APT_LOCK_WAIT="${APT_LOCK_WAIT:-600}"  # seconds to wait for another apt/dpkg to finish
APT_RETRY_SLEEP="${APT_RETRY_SLEEP:-10}"

# apt_run LABEL CMD...: run an apt command with its output in the log and a progress line
# on the console every 10 %. When another apt/dpkg process (unattended-upgrades, a first
# boot's cloud-init) holds the lock, wait for it, bounded by APT_LOCK_WAIT, and retry.
apt_run() {
  local label="$1" rc waited=0 pid
  shift
  local status="$BOOT_LOG.status"
  # (sudo closes fd 3, so progress lines only when we are root.)
  if [ "$(id -u)" -eq 0 ]; then set -- "$@" -o APT::Status-Fd=3; fi
  while true; do
    echo "== $(date -u +%Y-%m-%dT%H:%M:%SZ) $*" >>"$BOOT_LOG"
    : >"$status"
    _progress=-10
    # APT::Status-Fd=3 writes "pmstatus:pkg:percent:what" lines to $status; the lock
    # timeout lets apt itself wait up to a minute per attempt.
    "$@" -o DPkg::Lock::Timeout=60 3>"$status" >>"$BOOT_LOG" 2>&1 &
    pid=$!
    while kill -0 "$pid" 2>/dev/null; do
      sleep 1
      apt_progress "$label" "$status"
    done
    rc=0
    wait "$pid" || rc=$?
    apt_progress "$label" "$status"
    rm -f "$status"
    [ "$rc" -eq 0 ] && return 0
    if tail -n 30 "$BOOT_LOG" | grep -qiE 'could not get lock|unable to acquire|another process using it' \
        && [ "$waited" -lt "$APT_LOCK_WAIT" ]; then
      local holder
      holder="$(pgrep -a -f '^(/usr/bin/)?(apt|apt-get|dpkg|unattended-upgr)' 2>/dev/null | head -n1 || true)"
      echo "bootstrap: another apt/dpkg process holds the lock${holder:+ ($holder)};" \
        "waiting (${waited}s of ${APT_LOCK_WAIT}s)" >&2
      sleep "$APT_RETRY_SLEEP"
      waited=$((waited + APT_RETRY_SLEEP))
      continue
    fi
    echo "bootstrap: $label failed (exit $rc); the end of $BOOT_LOG:" >&2
    tail -n 15 "$BOOT_LOG" >&2
    return "$rc"
  done
}

# apt_progress LABEL STATUS_FILE: one console line per 10 % apt reports.
apt_progress() {
  local line pct desc
  line="$(grep -E '^(pm|dl)status:' "$2" 2>/dev/null | tail -n1 || true)"
  [ -n "$line" ] || return 0
  pct="$(cut -d: -f3 <<<"$line")"
  pct="${pct%%.*}"
  desc="$(cut -d: -f4- <<<"$line")"
  case "$pct" in ''|*[!0-9]*) return 0 ;; esac
  if [ "$pct" -ge $((_progress + 10)) ]; then
    _progress="$pct"
    echo "bootstrap: $1 ${pct}% ${desc}" >&2
  fi
}

need_apt=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
# postgresql: the store's tests run on a real PostgreSQL (scripts/pg_test.sh).
want_pkgs=(libopus0 espeak-ng sox postgresql)
if [ "${VOICEROOM_WITH_BROWSER:-1}" = "1" ]; then want_pkgs+=(chromium fonts-noto-core fonts-noto-cjk); fi
if [ "${VOICEROOM_WITH_NET_TOOLS:-${VOICEROOM_WITH_BROWSER:-1}}" = "1" ]; then
  want_pkgs+=(coturn nftables iproute2 nginx libnss3-tools)
fi
for p in "${want_pkgs[@]}"; do have_pkg "$p" || need_apt+=("$p"); done
if [ "${#need_apt[@]}" -gt 0 ] && [ "${VOICEROOM_SKIP_APT:-0}" != "1" ]; then
  echo "bootstrap: installing Debian packages: ${need_apt[*]} (details: $BOOT_LOG)" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  apt_run "apt-get update" $SUDO apt-get update
  apt_run "apt-get install" $SUDO env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y --no-install-recommends "${need_apt[@]}"
  echo "bootstrap: Debian packages installed" >&2
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "bootstrap: creating virtualenv in $VENV" >&2
  "$PY" -m venv "$VENV"
fi
# Reinstall only when pyproject.toml changed since the last successful install.
stamp="$VENV/.voiceroom-installed"
hash="$(sha256sum "$ROOT/pyproject.toml" | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$hash" ]; then
  echo "bootstrap: installing Python dependencies (details: $BOOT_LOG)" >&2
  if ! { "$VENV/bin/python" -m pip install --upgrade pip \
         && "$VENV/bin/python" -m pip install -e "$ROOT[test]"; } >>"$BOOT_LOG" 2>&1; then
    echo "bootstrap: pip install failed; the end of $BOOT_LOG:" >&2
    tail -n 15 "$BOOT_LOG" >&2
    exit 1
  fi
  echo "bootstrap: Python dependencies installed" >&2
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
    if (cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error >>"$BOOT_LOG" 2>&1); then
      echo "$lock_hash" > "$npm_stamp"
    else
      echo "bootstrap: npm ci failed (offline?); the page still works from its vendored copy" >&2
    fi
  fi
fi
