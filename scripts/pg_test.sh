#!/usr/bin/env bash
# A throw-away PostgreSQL cluster for the store's tests (sourced by scripts/test.sh; also
# runnable alone: `source scripts/pg_test.sh && pg_test_start`, then `pg_test_stop`).
# Debian's `postgresql` package provides the binaries; PostgreSQL refuses to run as root,
# so under root the cluster belongs to the `postgres` user the package creates. It listens
# on 127.0.0.1 (a free port) and on a Unix socket in its temp dir, trusts local
# connections (nothing else can reach it) and is deleted by pg_test_stop.
# Exports VOICEROOM_TEST_POSTGRES_URL for the tests.

pg_test_bin() {
  { ls -d /usr/lib/postgresql/*/bin 2>/dev/null || true; } | sort -V | tail -1
}

_pg_as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_test_start() {
  local bin port
  bin="$(pg_test_bin)"
  if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
    echo "pg_test: PostgreSQL binaries not found (apt-get install postgresql)" >&2
    return 1
  fi
  PG_TEST_DIR="$(mktemp -d /tmp/voiceroom-pg.XXXXXX)"
  if [ "$(id -u)" -eq 0 ]; then chown postgres: "$PG_TEST_DIR"; fi
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  _pg_as_owner "$bin/initdb" -D "$PG_TEST_DIR/data" -U postgres -A trust -E UTF8 \
    --no-instructions >"$PG_TEST_DIR/initdb.log" 2>&1 \
    || { cat "$PG_TEST_DIR/initdb.log" >&2; return 1; }
  _pg_as_owner "$bin/pg_ctl" -D "$PG_TEST_DIR/data" -l "$PG_TEST_DIR/server.log" -w -t 30 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $PG_TEST_DIR -c max_connections=50" \
    start >/dev/null || { cat "$PG_TEST_DIR/server.log" >&2; return 1; }
  PG_TEST_BIN="$bin"
  _pg_as_owner "$bin/createdb" -h "$PG_TEST_DIR" -p "$port" -U postgres voiceroom_test
  export VOICEROOM_TEST_POSTGRES_URL="postgresql+psycopg://postgres@127.0.0.1:$port/voiceroom_test"
  echo "pg_test: PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port ($PG_TEST_DIR)" >&2
}

pg_test_stop() {
  if [ -n "${PG_TEST_DIR:-}" ] && [ -d "$PG_TEST_DIR" ]; then
    _pg_as_owner "$PG_TEST_BIN/pg_ctl" -D "$PG_TEST_DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$PG_TEST_DIR"
    unset VOICEROOM_TEST_POSTGRES_URL PG_TEST_DIR
  fi
}
