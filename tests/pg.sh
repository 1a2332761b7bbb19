#!/usr/bin/env bash
# A throwaway PostgreSQL server for the test suite (and the ledger benchmark).
#
#   tests/pg.sh check        print the server binaries' folder, or exit 1 when there are none
#   tests/pg.sh start DIR    initdb a cluster in DIR, start it on a free loopback port,
#                            print its postgresql:// URL (trust auth, user "clawback")
#   tests/pg.sh stop DIR     stop the cluster in DIR (the caller removes DIR)
#
# Binaries: $PG_BIN, else the newest /usr/lib/postgresql/*/bin (Debian), else initdb on PATH.
# PostgreSQL refuses to run as root: as root, the cluster belongs to the "postgres" user (or
# "nobody") and every server command runs through runuser.
set -euo pipefail

find_bin() {
  if [ -n "${PG_BIN:-}" ] && [ -x "$PG_BIN/initdb" ]; then echo "$PG_BIN"; return 0; fi
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -V -r); do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then echo "$d"; return 0; fi
  done
  if command -v initdb >/dev/null 2>&1; then dirname "$(command -v initdb)"; return 0; fi
  return 1
}

owner() {
  if id -u postgres >/dev/null 2>&1; then echo postgres; else echo nobody; fi
}

as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u "$(owner)" -- "$@"; else "$@"; fi
}

free_port() {
  "${PYTHON:-python3}" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

cmd="${1:-}"
case "$cmd" in
  check)
    find_bin
    ;;
  start)
    dir="${2:?usage: tests/pg.sh start DIR}"
    bin="$(find_bin)" || { echo "no PostgreSQL server binaries found" >&2; exit 1; }
    mkdir -p "$dir"
    if [ "$(id -u)" = 0 ]; then chown "$(owner)" "$dir"; fi
    as_owner "$bin/initdb" -D "$dir/data" -U clawback --auth=trust -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 1; }
    for attempt in 1 2 3; do
      port="$(free_port)"
      if as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/data/server.log" -w -t 60 \
          -o "-c listen_addresses=127.0.0.1 -p $port -k $dir/data -c fsync=off -c full_page_writes=off -c synchronous_commit=off -c max_connections=60" \
          start >/dev/null 2>&1; then
        echo "postgresql://clawback@127.0.0.1:$port/postgres"
        exit 0
      fi
    done
    cat "$dir/data/server.log" >&2 || true
    exit 1
    ;;
  stop)
    dir="${2:?usage: tests/pg.sh stop DIR}"
    bin="$(find_bin)" || exit 0
    if [ -f "$dir/data/postmaster.pid" ]; then
      as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
    fi
    ;;
  *)
    echo "usage: tests/pg.sh check | start DIR | stop DIR" >&2
    exit 2
    ;;
esac
