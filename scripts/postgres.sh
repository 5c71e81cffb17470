#!/usr/bin/env bash
# A private PostgreSQL server for the tests and the benchmark: its own folder, 127.0.0.1 only, a
# free port, its socket in its folder. PostgreSQL refuses to run as root: as root, the server
# programs run as the `postgres` user (`runuser`), which owns the folder.
#
# Usage:
#   scripts/postgres.sh start DIR [PID]  DIR must not exist. Makes a cluster in DIR, a role with a
#       fresh random password and a database (both named `ocrcloud`, with pg_stat_statements),
#       starts the server and prints its URL, postgresql://ocrcloud:PASSWORD@127.0.0.1:PORT/ocrcloud.
#       The password is a secret: keep the URL out of logs. With PID, a watcher (detached from the
#       caller's session) removes the server when process PID ends, so that a killed test leaves
#       nothing behind.
#   scripts/postgres.sh stop DIR      stops the server at once (`pg_ctl stop -m immediate`)
#   scripts/postgres.sh restart DIR   starts a stopped server again on the same port
#   scripts/postgres.sh remove DIR    stops the server if it runs and removes DIR
#   scripts/postgres.sh freeze DIR    stops every process of the server with SIGSTOP: connections
#       stay open and the kernel still accepts and acknowledges, but nothing answers
#   scripts/postgres.sh thaw DIR      lets a frozen server go on (SIGCONT); `stop` and `remove` do too
#   scripts/postgres.sh psql DIR ARGS...  psql as the superuser over the private socket, on the
#       `ocrcloud` database
# The server programs are found in $OCRCLOUD_PG_BIN, else the newest /usr/lib/postgresql/*/bin
# (Debian's `postgresql` package; scripts/install-deps.sh installs it), else on the PATH.
set -euo pipefail

command=${1:?usage: postgres.sh start|stop|restart|remove|freeze|thaw|psql DIR ...}
dir=${2:?usage: postgres.sh $command DIR ...}
shift 2
admin=ocrcloud_admin

bin=${OCRCLOUD_PG_BIN:-}
if [ -z "$bin" ]; then
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$bin" ] || bin=$(dirname "$(command -v initdb || echo /missing/initdb)")
fi
[ -x "$bin/initdb" ] || { echo "postgres.sh: no PostgreSQL server programs (run scripts/install-deps.sh)" >&2; exit 1; }

# Runs a server program as the folder's owner.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    (cd "$dir" && runuser -u postgres -- "$@")
  else
    (cd "$dir" && "$@")
  fi
}

running() {
  as_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1
}

# Starts the server on the port in $dir/port; fails when it does not come up.
start_server() {
  as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 300 \
    -o "-p $(cat "$dir/port")" start >/dev/null 2>&1
}

# Sends SIGSTOP or SIGCONT to the server's postmaster and its children, if it runs.
signal_server() {
  local pid
  pid=$(head -n 1 "$dir/data/postmaster.pid" 2>/dev/null) || return 0
  [ -n "$pid" ] || return 0
  # shellcheck disable=SC2046
  kill "-$1" "$pid" $(pgrep -P "$pid") 2>/dev/null || true
}

psql_admin() {
  "$bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir" -p "$(cat "$dir/port")" -U "$admin" "$@"
}

case $command in
start)
  [ ! -e "$dir" ] || { echo "postgres.sh: $dir exists" >&2; exit 1; }
  mkdir -m 700 "$dir"
  [ "$(id -u)" -ne 0 ] || chown postgres: "$dir"
  as_owner "$bin/initdb" -D "$dir/data" -U "$admin" -E UTF8 --no-locale --no-sync \
    --auth-local=trust --auth-host=scram-sha-256 >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; exit 1; }
  # The socket lives in the private folder (mode 700): only its owner and root reach the
  # superuser, who is trusted there; TCP asks every role for its password. No fsync (a crash of
  # the server, `stop`, keeps what the kernel holds), but synchronous commits: an asynchronous
  # commit would be lost by `stop`, and a test would blame the client for it.
  cat >>"$dir/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
fsync = off
full_page_writes = off
shared_buffers = 16MB
max_connections = 200
shared_preload_libraries = 'pg_stat_statements'
EOF
  # A free port: a random one below Linux's range of outgoing ports, another when it is taken.
  for attempt in $(seq 1 20); do
    echo $((20000 + RANDOM % 12000)) >"$dir/port"
    [ "$(id -u)" -ne 0 ] || chown postgres: "$dir/port"
    if start_server; then break; fi
    if [ "$attempt" -eq 20 ] || ! grep -q "already in use" "$dir/server.log" 2>/dev/null; then
      echo "postgres.sh: the server did not start:" >&2
      tail -n 20 "$dir/server.log" >&2 || true
      exit 1
    fi
  done
  password="ocrPg$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
  psql_admin -d postgres <<EOF
CREATE ROLE ocrcloud LOGIN PASSWORD '$password';
CREATE DATABASE ocrcloud OWNER ocrcloud;
EOF
  psql_admin -d ocrcloud -c "CREATE EXTENSION pg_stat_statements"
  if [ $# -ge 1 ]; then
    watched=$1
    setsid bash -c 'while kill -0 "$1" 2>/dev/null && [ -d "$2" ]; do sleep 1; done
                    [ ! -d "$2" ] || "$0" remove "$2"' "$0" "$watched" "$dir" \
      </dev/null >/dev/null 2>&1 &
  fi
  echo "postgresql://ocrcloud:$password@127.0.0.1:$(cat "$dir/port")/ocrcloud"
  ;;
stop)
  signal_server CONT
  as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null
  ;;
restart)
  start_server || { echo "postgres.sh: the server did not start again:" >&2; tail -n 20 "$dir/server.log" >&2; exit 1; }
  ;;
remove)
  signal_server CONT
  if [ -d "$dir/data" ] && running; then
    as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
  ;;
freeze)
  signal_server STOP
  ;;
thaw)
  signal_server CONT
  ;;
psql)
  psql_admin -d ocrcloud "$@"
  ;;
*)
  echo "postgres.sh: unknown command $command" >&2
  exit 2
  ;;
esac
