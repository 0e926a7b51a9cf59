#!/usr/bin/env bash
# Throwaway PostgreSQL for imfaas tests and local runs (Debian's postgresql-<major> package).
#
#   infra/postgres.sh install   apt-get install postgresql-$PG_MAJOR (root; only if missing)
#   infra/postgres.sh start     initdb (first time) + pg_ctl start; prints the DSN; no-op if running
#   infra/postgres.sh wait      wait until it accepts connections
#   infra/postgres.sh status    exit 0 only when it accepts connections
#   infra/postgres.sh stop      pg_ctl stop -m fast (data dir is kept; next start reuses it)
#
# Does NOT use the Debian cluster service (pg_ctlcluster/systemd). The cluster lives in
# $IMFAAS_INFRA_RUN/postgres/data, owned by the `postgres` OS user when run as root, listens on
# 127.0.0.1:$IMFAAS_POSTGRES_PORT (25432) with trust auth, unix socket in
# $IMFAAS_INFRA_RUN/postgres/sock. Role imfaas/imfaas (LOGIN CREATEDB) owns databases
# `imfaas` and `imfaas_test`. DSN: postgresql://imfaas:imfaas@127.0.0.1:25432/imfaas
# To start from scratch: stop, then rm -rf "$IMFAAS_INFRA_RUN/postgres".

PG_MAJOR=15               # Debian 12 (bookworm) ships PostgreSQL 15
PG_OS_USER=postgres       # created by the Debian package; used when we run as root
PG_MAX_CONNECTIONS=200

INFRA_NAME=postgres
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

PG_BIN=/usr/lib/postgresql/$PG_MAJOR/bin
PG_PORT=$IMFAAS_POSTGRES_PORT
PG_RUN=$IMFAAS_INFRA_RUN/postgres
PG_DATA=$PG_RUN/data
PG_SOCK=$PG_RUN/sock
PG_LOG=$PG_RUN/log/postgres.log
PG_PIDFILE=$PG_RUN/pid
PG_DSN="postgresql://imfaas:imfaas@127.0.0.1:$PG_PORT/imfaas"

as_pg() {  # run a command as the cluster owner (postgres refuses to run as root)
  if [ "$(id -u)" -eq 0 ]; then
    (cd / && runuser -u "$PG_OS_USER" -- "$@")
  else
    "$@"
  fi
}

pg_ready() { "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres; }

pid_live() {  # pid_live PID: exists and is not a zombie (a killed, daemonized server stays a
  # zombie until PID 1 reaps it, and kill -0 / pg_ctl status still see it meanwhile)
  [ -e "/proc/$1" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

pg_postmaster_pid() { head -n 1 "$PG_DATA/postmaster.pid" 2>/dev/null; }

pg_running() {  # our cluster's postmaster is alive (pg_ctl status: 0 running, 3 stopped, 4 no data dir)
  [ -f "$PG_DATA/PG_VERSION" ] && as_pg "$PG_BIN/pg_ctl" status -D "$PG_DATA" >/dev/null 2>&1 \
    && pid_live "$(pg_postmaster_pid)"
}

pg_wait_reaped() {  # a crashed postmaster that is still a zombie blocks a new start (lock file)
  local pid; pid=$(pg_postmaster_pid) || return 0
  [ -n "$pid" ] || return 0
  local deadline=$((SECONDS + IMFAAS_WAIT_SECONDS))
  while [ -e "/proc/$pid" ] && ! pid_live "$pid"; do
    [ "$SECONDS" -lt "$deadline" ] || infra_die "old postmaster $pid is still a zombie"
    sleep 0.5
  done
}

pg_prepare_dirs() {
  infra_dirs postgres >/dev/null
  mkdir -p "$PG_SOCK"
  touch "$PG_LOG"
  if [ "$(id -u)" -eq 0 ]; then
    chown -R "$PG_OS_USER:" "$PG_RUN"
    runuser -u "$PG_OS_USER" -- test -x "$PG_RUN" \
      || infra_die "$PG_RUN is not reachable by the $PG_OS_USER user (a parent dir is not traversable); set IMFAAS_INFRA_RUN elsewhere"
  fi
  chmod 700 "$PG_DATA" "$PG_SOCK"
}

pg_initdb() {
  infra_log "initdb in $PG_DATA"
  as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >>"$PG_LOG"
  cat >"$PG_DATA/pg_hba.conf" <<'HBA'
# imfaas throwaway cluster: unix socket (in the run dir) and 127.0.0.1 only, no password needed
local all all              trust
host  all all 127.0.0.1/32 trust
HBA
  echo "include 'imfaas.conf'" >>"$PG_DATA/postgresql.conf"
  [ "$(id -u)" -ne 0 ] || chown "$PG_OS_USER:" "$PG_DATA/pg_hba.conf"
}

pg_write_conf() {  # rewritten on every start so port/paths follow the environment
  cat >"$PG_DATA/imfaas.conf" <<CONF
# written by infra/postgres.sh on every start
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG_SOCK'
max_connections = $PG_MAX_CONNECTIONS
fsync = on
synchronous_commit = on
full_page_writes = on
CONF
  [ "$(id -u)" -ne 0 ] || chown "$PG_OS_USER:" "$PG_DATA/imfaas.conf"
}

pg_bootstrap_sql() {  # idempotent: role imfaas, databases imfaas and imfaas_test
  as_pg "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCK" -p "$PG_PORT" -U postgres -d postgres <<'SQL'
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'imfaas') THEN
    CREATE ROLE imfaas LOGIN CREATEDB PASSWORD 'imfaas';
  ELSE
    ALTER ROLE imfaas LOGIN CREATEDB PASSWORD 'imfaas';
  END IF;
END
$$;
SELECT 'CREATE DATABASE imfaas OWNER imfaas'
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'imfaas') \gexec
SELECT 'CREATE DATABASE imfaas_test OWNER imfaas'
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'imfaas_test') \gexec
SQL
}

install_server() {
  infra_apt_install "postgresql-$PG_MAJOR" "postgresql-client-$PG_MAJOR"
  [ -x "$PG_BIN/postgres" ] || infra_die "$PG_BIN/postgres missing after install"
  infra_log "$("$PG_BIN/postgres" --version)"
}

start_server() {
  [ -x "$PG_BIN/pg_ctl" ] || install_server
  pg_prepare_dirs
  if pg_running; then
    infra_log "already running (data $PG_DATA)"
  else
    if infra_port_open "$PG_PORT"; then
      infra_die "port $PG_PORT is already in use by something else"
    fi
    pg_wait_reaped
    [ -f "$PG_DATA/PG_VERSION" ] || pg_initdb
    pg_write_conf
    infra_log "starting on 127.0.0.1:$PG_PORT (log $PG_LOG)"
    as_pg "$PG_BIN/pg_ctl" start -D "$PG_DATA" -l "$PG_LOG" -w -t "$IMFAAS_WAIT_SECONDS" >/dev/null \
      || { tail -n 40 "$PG_LOG" >&2; infra_die "pg_ctl start failed"; }
  fi
  pg_postmaster_pid >"$PG_PIDFILE"
  wait_server
  pg_bootstrap_sql
  printf '%s\n' "$PG_DSN"
}

wait_server() {
  infra_wait_for "postgres on 127.0.0.1:$PG_PORT" "$PG_LOG" pg_ready
}

stop_server() {
  if pg_running; then
    infra_log "stopping"
    as_pg "$PG_BIN/pg_ctl" stop -D "$PG_DATA" -m fast -w -t "$IMFAAS_WAIT_SECONDS" >/dev/null
  else
    infra_log "not running"
  fi
  rm -f "$PG_PIDFILE"
}

status_server() {
  if pg_ready; then
    infra_log "accepting connections on 127.0.0.1:$PG_PORT ($PG_DSN)"
  else
    infra_log "not accepting connections on 127.0.0.1:$PG_PORT"
    return 1
  fi
}

infra_main "$@"
