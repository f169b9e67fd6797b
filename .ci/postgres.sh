#!/usr/bin/env bash
# A throwaway PostgreSQL for the tests: `start DIR` installs Debian's postgresql if it is missing,
# makes a cluster in DIR on a free loopback port (as the `postgres` user when run as root:
# PostgreSQL refuses to run as root) and prints its SQLAlchemy URL; `stop DIR` stops it and
# removes DIR. Used by `make test`.
set -euo pipefail

action=${1:?start|stop}
dir=${2:?cluster directory}

as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

bindir() {
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1
}

case "$action" in
start)
  if [ -z "$(bindir)" ]; then
    SUDO=$(test "$(id -u)" = 0 || echo sudo)
    $SUDO apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
  fi
  bin=$(bindir)
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  rm -rf "$dir"
  mkdir -p "$dir"
  if [ "$(id -u)" = 0 ]; then chown postgres "$dir"; fi
  as_postgres "$bin/initdb" -D "$dir/data" -U vestis --auth=trust >/dev/null
  as_postgres "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off" \
    start >/dev/null
  echo "postgresql+psycopg://vestis@127.0.0.1:$port/postgres"
  ;;
stop)
  bin=$(bindir)
  if [ -n "$bin" ] && [ -d "$dir/data" ]; then
    as_postgres "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
  ;;
esac
