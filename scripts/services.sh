#!/usr/bin/env bash
# Start throwaway PostgreSQL and Chroma servers on 127.0.0.1 for the scale-out tests and benchmarks.
#
#   eval "$(scripts/services.sh start [DIR])"   # prints the export lines for RAG_TEST_DATABASE_URL, RAG_TEST_CHROMA_URL
#   scripts/services.sh stop [DIR]
#
# PostgreSQL refuses to run as root, so as root the cluster is made and run by the `postgres` user.
set -euo pipefail
cd "$(dirname "$0")/.."

action=${1:-start}
dir=$(realpath -m "${2:-${RAG_SERVICES_DIR:-/tmp/newsrag-services}}")
pg_port=${RAG_PG_PORT:-55432}
chroma_port=${RAG_CHROMA_PORT:-58000}
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
chroma=${CHROMA:-.venv/bin/chroma}

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case $action in
start)
  [ -n "$pg_bin" ] || { echo "PostgreSQL is not installed: apt-get install postgresql" >&2; exit 1; }
  mkdir -p "$dir"
  if [ ! -f "$dir/pg/PG_VERSION" ]; then
    mkdir -p "$dir/pg"
    [ "$(id -u)" = 0 ] && chown postgres "$dir" "$dir/pg"
    as_pg "$pg_bin/initdb" -D "$dir/pg" -U postgres -A trust --no-sync >"$dir/initdb.log" 2>&1
  fi
  as_pg "$pg_bin/pg_ctl" -D "$dir/pg" -l "$dir/pg.log" -w status >/dev/null 2>&1 ||
    as_pg "$pg_bin/pg_ctl" -D "$dir/pg" -l "$dir/pg.log" -w \
      -o "-h 127.0.0.1 -p $pg_port -k $dir/pg -c fsync=off -c max_connections=200" start >/dev/null
  "$pg_bin/psql" -h 127.0.0.1 -p "$pg_port" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'newsrag'" |
    grep -q 1 || "$pg_bin/createdb" -h 127.0.0.1 -p "$pg_port" -U postgres newsrag
  if ! curl -sf "http://127.0.0.1:$chroma_port/api/v2/heartbeat" >/dev/null; then
    nohup "$chroma" run --path "$dir/chroma" --host 127.0.0.1 --port "$chroma_port" >"$dir/chroma.log" 2>&1 &
    echo $! >"$dir/chroma.pid"
    for _ in $(seq 120); do
      curl -sf "http://127.0.0.1:$chroma_port/api/v2/heartbeat" >/dev/null && break
      sleep 0.5
    done
    curl -sf "http://127.0.0.1:$chroma_port/api/v2/heartbeat" >/dev/null ||
      { echo "chroma run did not start; see $dir/chroma.log" >&2; exit 1; }
  fi
  echo "export RAG_TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:$pg_port/newsrag"
  echo "export RAG_TEST_CHROMA_URL=http://127.0.0.1:$chroma_port"
  ;;
stop)
  [ -f "$dir/chroma.pid" ] && kill "$(cat "$dir/chroma.pid")" 2>/dev/null || true
  rm -f "$dir/chroma.pid"
  [ -f "$dir/pg/PG_VERSION" ] && as_pg "$pg_bin/pg_ctl" -D "$dir/pg" -m fast stop >/dev/null 2>&1 || true
  ;;
*)
  echo "usage: scripts/services.sh start|stop [DIR]" >&2
  exit 2
  ;;
esac
