#!/usr/bin/env bash
# Throwaway Redis for imfaas tests and local runs (Debian's redis-server package).
#
#   infra/redis.sh install   apt-get install redis-server (root; only if missing)
#   infra/redis.sh start     redis-server daemonized with a generated config; prints the URL; no-op if running
#   infra/redis.sh wait      wait until `redis-cli ping` answers PONG
#   infra/redis.sh status    exit 0 only when it answers PONG
#   infra/redis.sh stop      redis-cli shutdown nosave, then wait for the pid to go
#
# Does NOT use the Debian redis-server service (whether it runs or not does not matter): our
# own instance listens on 127.0.0.1:$IMFAAS_REDIS_PORT (26379), no persistence at all
# (appendonly no, save "": Redis holds only rebuildable state). Config, pid, log and dir are
# under $IMFAAS_INFRA_RUN/redis. URL: redis://127.0.0.1:26379/0

REDIS_MAJOR=7             # Debian 12 (bookworm) ships Redis 7.0
REDIS_STOP_SECONDS=30     # after `shutdown nosave`, then SIGTERM/SIGKILL

INFRA_NAME=redis
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

REDIS_PORT=$IMFAAS_REDIS_PORT
REDIS_RUN=$IMFAAS_INFRA_RUN/redis
REDIS_CONF=$REDIS_RUN/redis.conf
REDIS_LOG=$REDIS_RUN/log/redis.log
REDIS_PIDFILE=$REDIS_RUN/pid
REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"

redis_cli() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"; }

redis_ping() { [ "$(redis_cli ping 2>/dev/null)" = PONG ]; }

pid_live() {  # pid_live PID: exists and is not a zombie (a killed, daemonized server stays a
  # zombie until PID 1 reaps it, and kill -0 still sees it meanwhile)
  [ -e "/proc/$1" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

redis_alive() {  # our pidfile names a live redis-server (not a zombie, not a recycled pid)
  infra_pid_alive "$REDIS_PIDFILE" || return 1
  local pid; pid=$(cat "$REDIS_PIDFILE")
  pid_live "$pid" && grep -q '^redis' "/proc/$pid/comm" 2>/dev/null
}

redis_write_conf() {  # rewritten on every start so port/paths follow the environment
  cat >"$REDIS_CONF" <<CONF
# written by infra/redis.sh on every start
bind 127.0.0.1
port $REDIS_PORT
protected-mode no
daemonize yes
supervised no
pidfile "$REDIS_PIDFILE"
logfile "$REDIS_LOG"
dir "$REDIS_RUN/data"
appendonly no
save ""
CONF
}

install_server() {
  infra_apt_install redis-server redis-tools
  command -v redis-server >/dev/null || infra_die "redis-server missing after install"
  local version; version=$(redis-server --version | sed -n 's/.* v=\([0-9.]*\).*/\1/p')
  [ "${version%%.*}" = "$REDIS_MAJOR" ] || infra_die "expected Redis $REDIS_MAJOR.x, found ${version:-unknown}"
  infra_log "redis-server $version"
}

start_server() {
  if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then install_server; fi
  infra_dirs redis >/dev/null
  if redis_alive; then
    infra_log "already running (pid $(cat "$REDIS_PIDFILE"))"
  else
    rm -f "$REDIS_PIDFILE"
    if infra_port_open "$REDIS_PORT"; then
      infra_die "port $REDIS_PORT is already in use by something else"
    fi
    redis_write_conf
    infra_log "starting on 127.0.0.1:$REDIS_PORT (log $REDIS_LOG)"
    redis-server "$REDIS_CONF" || { tail -n 40 "$REDIS_LOG" >&2; infra_die "redis-server failed to start"; }
  fi
  wait_server
  printf '%s\n' "$REDIS_URL"
}

wait_server() {
  infra_wait_for "redis on 127.0.0.1:$REDIS_PORT" "$REDIS_LOG" redis_ping
}

stop_server() {
  if ! redis_alive; then
    infra_log "not running"
    rm -f "$REDIS_PIDFILE"
    return 0
  fi
  local pid; pid=$(cat "$REDIS_PIDFILE")
  infra_log "stopping (pid $pid)"
  redis_cli shutdown nosave >/dev/null 2>&1 || true
  local deadline=$((SECONDS + REDIS_STOP_SECONDS))
  while pid_live "$pid" && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.2; done
  if pid_live "$pid"; then
    infra_log "still alive after ${REDIS_STOP_SECONDS}s; sending SIGTERM"
    infra_stop_pid "$REDIS_PIDFILE" 10
  fi
  rm -f "$REDIS_PIDFILE"
}

status_server() {
  if redis_ping; then
    infra_log "answering PING on 127.0.0.1:$REDIS_PORT ($REDIS_URL)"
  else
    infra_log "not answering on 127.0.0.1:$REDIS_PORT"
    return 1
  fi
}

infra_main "$@"
