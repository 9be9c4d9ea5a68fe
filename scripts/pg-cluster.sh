#!/usr/bin/env bash
# A private PostgreSQL 15 cluster for tests and the simulator: start | stop | url.
# initdb runs as the `postgres` OS user into a temp dir; the server listens on 127.0.0.1 on a free port.
set -euo pipefail
# LOCKSTEP_PG_STATE lets several clusters coexist (npm test starts its own).
STATE=${LOCKSTEP_PG_STATE:-/tmp/lockstep-pg.env}
BIN=/usr/lib/postgresql/15/bin

url() { . "$STATE"; echo "postgres://postgres@127.0.0.1:${PORT}/postgres"; }

running() { [ -f "$STATE" ] && . "$STATE" && [ -n "${DATA:-}" ] && su postgres -s /bin/sh -c "$BIN/pg_ctl -D '$DATA' status" >/dev/null 2>&1; }

case "${1:-}" in
  start)
    if running; then url; exit 0; fi
    if [ ! -x "$BIN/initdb" ]; then
      echo "installing PostgreSQL 15 (Debian package)..." >&2
      apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 >&2
    fi
    DIR=$(mktemp -d /tmp/lockstep-pg-XXXXXX)
    chown postgres "$DIR"
    DATA="$DIR/data"
    PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    su postgres -s /bin/sh -c "$BIN/initdb -D '$DATA' -U postgres --auth=trust -E UTF8 --no-instructions" >/dev/null
    su postgres -s /bin/sh -c "$BIN/pg_ctl -D '$DATA' -l '$DIR/log' -w -t 60 -o \"-c listen_addresses=127.0.0.1 -p $PORT -k $DIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200\" start" >/dev/null
    printf 'DIR=%s\nDATA=%s\nPORT=%s\n' "$DIR" "$DATA" "$PORT" > "$STATE"
    for _ in $(seq 1 50); do "$BIN/pg_isready" -h 127.0.0.1 -p "$PORT" -q && break; sleep 0.2; done
    url
    ;;
  stop)
    if running; then su postgres -s /bin/sh -c "$BIN/pg_ctl -D '$DATA' -m fast -w stop" >/dev/null; fi
    if [ -f "$STATE" ]; then . "$STATE"; rm -rf "$DIR"; rm -f "$STATE"; fi
    ;;
  url)
    running || { echo "no cluster running (npm run pg:start)" >&2; exit 1; }
    url
    ;;
  *) echo "usage: $0 start|stop|url" >&2; exit 2 ;;
esac
