#!/usr/bin/env bash
# Start a throwaway PostgreSQL on 127.0.0.1:54329 for the store tests and print its URL.
# Usage: export HARNESS_TEST_PG_URL=$(bash .ci/postgres.sh)   (prints nothing if PostgreSQL cannot be had)
set -u
PORT=54329
DATA=/tmp/harness-pg
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  (apt-get update -q && apt-get install -y -q postgresql) >/tmp/harness-pg-install.log 2>&1 || exit 0
fi
BIN=$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)")
id postgres >/dev/null 2>&1 || exit 0
if [ ! -f "$DATA/PG_VERSION" ]; then
  rm -rf "$DATA" && mkdir -p "$DATA" && chown postgres "$DATA"
  su postgres -c "$BIN/initdb -D $DATA -A trust -U postgres" >/tmp/harness-pg-init.log 2>&1 || exit 0
fi
su postgres -c "$BIN/pg_ctl -D $DATA -o '-p $PORT -k /tmp -c listen_addresses=127.0.0.1' -l /tmp/harness-pg.log -w start" \
  >/dev/null 2>&1 || true
su postgres -c "$BIN/psql -h 127.0.0.1 -p $PORT -U postgres -tc \"select 1 from pg_database where datname='harness_test'\"" 2>/dev/null \
  | grep -q 1 || su postgres -c "$BIN/createdb -h 127.0.0.1 -p $PORT -U postgres harness_test" >/dev/null 2>&1 || exit 0
echo "postgresql+psycopg2://postgres@127.0.0.1:$PORT/harness_test"
