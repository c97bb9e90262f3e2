#!/usr/bin/env bash
# A throwaway PostgreSQL on loopback for the gradebook tests and the load benchmark.
#   scripts/postgres.sh start PORT   -> prints the SQLAlchemy URL of an empty database "gradebook"
#   scripts/postgres.sh stop PORT    -> stops the server and deletes its files
# As root the server runs as the "postgres" user; otherwise as you. Needs Debian's postgresql
# (/usr/lib/postgresql/*/bin) or initdb/pg_ctl on PATH.
set -euo pipefail

cmd=${1:-}; port=${2:-55432}
dir="/tmp/cnn-course-pg-$port"
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
[ -n "$bin" ] || bin=$(dirname "$(command -v pg_ctl 2>/dev/null || echo /nonexistent/pg_ctl)")
if [ ! -x "$bin/pg_ctl" ]; then
  echo "postgres.sh: PostgreSQL is not installed (Debian: apt-get install postgresql)" >&2
  exit 3
fi

as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "$cmd" in
  start)
    if [ -d "$dir" ]; then "$0" stop "$port" >/dev/null 2>&1 || true; fi
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$dir"
    chmod 700 "$dir"
    as_owner "$bin/initdb" -D "$dir/data" -A trust -U postgres --no-sync >"$dir.initdb.log" 2>&1 || {
      echo "postgres.sh: initdb failed, see $dir.initdb.log" >&2; exit 1; }
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c max_connections=200" start >/dev/null || {
      echo "postgres.sh: server did not start, see $dir/server.log" >&2; exit 1; }
    as_owner "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres gradebook
    rm -f "$dir.initdb.log"
    echo "postgresql+psycopg2://postgres@127.0.0.1:$port/gradebook"
    ;;
  stop)
    if [ -d "$dir/data" ]; then as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true; fi
    rm -rf "$dir"
    ;;
  *)
    echo "usage: $0 start|stop [PORT]" >&2; exit 2 ;;
esac
