#!/usr/bin/env bash
# Centrifugo as the comparison peer for imfaas benchmarks (built from source with `go install`).
#
#   bench/peer/centrifugo.sh install   go install centrifugo into the cache (skipped when the binary exists)
#   bench/peer/centrifugo.sh start     write the JSON config, check it, start pinned to CPU 0, wait for /health
#   bench/peer/centrifugo.sh status    exit 0 only when our pid is alive and /health answers
#   bench/peer/centrifugo.sh stop      SIGTERM (graceful), SIGKILL after CENTRIFUGO_STOP_SECONDS
#
# Listens on 127.0.0.1:$IMFAAS_PEER_PORT (default 28000), one port for everything:
#   client WebSocket (JSON protocol)  ws://127.0.0.1:28000/connection/websocket
#   server HTTP API                   http://127.0.0.1:28000/api  (header X-API-Key: bench-api-key)
#   health                            http://127.0.0.1:28000/health
# Clients connect with an HS256 JWT ({"sub": user}) signed with "bench-secret". Namespace
# `personal`: any connected (non-anonymous) client may subscribe to and publish into any
# personal:<user> channel; no history, no presence, no join/leave.
# Memory engine (single node), app-level JSON pings ({} every 25 s, pong within 8 s: Centrifugo's
# defaults; CENTRIFUGO_PING_INTERVAL / CENTRIFUGO_PONG_TIMEOUT change them, Go durations such as
# 5s). The ping interval is one setting for the whole server, so peer_scenarios.py P3 starts its
# own instance with it (IMFAAS_INFRA_RUN=/tmp/imfaas-infra/peer-p3, IMFAAS_PEER_PORT=28001)
# and the default instance, the one P1, P2 and P5 use, keeps 25 s.
# The server is pinned to CPU 0 with taskset, so the Go runtime starts with GOMAXPROCS=1.
#
# Binary: $IMFAAS_INFRA_HOME/dist/centrifugo-<version>/bin/centrifugo (kept across runs).
# Config, pid, logs: $IMFAAS_INFRA_RUN/centrifugo/ (config.json, pid, centrifugo.log, stdout.log).
# Config keys are those of centrifugo v6 (internal/config/config.go, internal/configtypes/*.go);
# `start` runs `centrifugo checkconfig --strict` first, so a misspelt key fails loudly.

set -euo pipefail

CENTRIFUGO_VERSION=v6.9.1   # latest v6 tag served by the Go module proxy (go list -m -versions ...)
CENTRIFUGO_MODULE=github.com/centrifugal/centrifugo/v6
CENTRIFUGO_STOP_SECONDS=15
CENTRIFUGO_CPU=${CENTRIFUGO_CPU:-0}

IMFAAS_INFRA_HOME=${IMFAAS_INFRA_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/imfaas-infra}
IMFAAS_INFRA_RUN=${IMFAAS_INFRA_RUN:-/tmp/imfaas-infra}
IMFAAS_WAIT_SECONDS=${IMFAAS_WAIT_SECONDS:-60}
IMFAAS_PEER_PORT=${IMFAAS_PEER_PORT:-28000}
CENTRIFUGO_PING_INTERVAL=${CENTRIFUGO_PING_INTERVAL:-25s}   # client.ping_interval (default: 25s)
CENTRIFUGO_PONG_TIMEOUT=${CENTRIFUGO_PONG_TIMEOUT:-8s}      # client.pong_timeout (default: 8s)
GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}

C_DIST=$IMFAAS_INFRA_HOME/dist/centrifugo-${CENTRIFUGO_VERSION#v}
C_BIN=$C_DIST/bin/centrifugo
C_RUN=$IMFAAS_INFRA_RUN/centrifugo
C_CONF=$C_RUN/config.json
C_LOG=$C_RUN/centrifugo.log   # Centrifugo's own log (log.file)
C_OUT=$C_RUN/stdout.log       # stdout/stderr of the process (Go panics, early failures)
C_PIDFILE=$C_RUN/pid          # written by Centrifugo (pid_file), removed on graceful exit
C_URL="http://127.0.0.1:$IMFAAS_PEER_PORT"

log() { printf '[peer centrifugo] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

pid_live() {  # exists and is not a zombie
  [ -e "/proc/$1" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

c_alive() {  # the pidfile names a live centrifugo process
  [ -f "$C_PIDFILE" ] || return 1
  local pid; pid=$(cat "$C_PIDFILE")
  [ -n "$pid" ] && pid_live "$pid" && grep -qx centrifugo "/proc/$pid/comm" 2>/dev/null
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$IMFAAS_PEER_PORT") 2>/dev/null; }

health_ok() {
  curl -fsS --max-time 2 "$C_URL/health" >/dev/null 2>&1
}

install_server() {
  if [ -x "$C_BIN" ]; then
    log "cached: $C_BIN"
    return 0
  fi
  [ -x "$GO" ] || die "go not found (set GO=/path/to/go)"
  mkdir -p "$C_DIST/bin"
  log "go install $CENTRIFUGO_MODULE@$CENTRIFUGO_VERSION (GOBIN=$C_DIST/bin)"
  local t0; t0=$(date +%s.%N)
  # -ldflags only stamps the version (as upstream's release build does, see .goreleaser.yml);
  # without it `centrifugo version` and the startup log say 0.0.0.
  GOBIN=$C_DIST/bin "$GO" install \
    -ldflags "-X $CENTRIFUGO_MODULE/internal/build.Version=${CENTRIFUGO_VERSION#v}" \
    "$CENTRIFUGO_MODULE@$CENTRIFUGO_VERSION"
  [ -x "$C_BIN" ] || die "go install finished but $C_BIN is missing"
  log "built in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')s: $("$C_BIN" version)"
}

write_config() {  # rewritten on every start so port and paths follow the environment
  cat >"$C_CONF" <<JSON
{
  "http_server": {"address": "127.0.0.1", "port": $IMFAAS_PEER_PORT},
  "log": {"level": "warn", "file": "$C_LOG"},
  "pid_file": "$C_PIDFILE",
  "client": {
    "token": {"hmac_secret_key": "bench-secret"},
    "allowed_origins": ["*"],
    "ping_interval": "$CENTRIFUGO_PING_INTERVAL",
    "pong_timeout": "$CENTRIFUGO_PONG_TIMEOUT"
  },
  "http_api": {"key": "bench-api-key"},
  "channel": {
    "namespaces": [
      {
        "name": "personal",
        "allow_subscribe_for_client": true,
        "allow_publish_for_client": true,
        "presence": false,
        "join_leave": false,
        "history_size": 0
      }
    ]
  },
  "health": {"enabled": true},
  "usage_stats": {"disabled": true}
}
JSON
}

start_server() {
  [ -x "$C_BIN" ] || install_server
  command -v taskset >/dev/null || die "taskset (util-linux) is missing"
  command -v curl >/dev/null || die "curl is missing"
  mkdir -p "$C_RUN"
  if c_alive; then
    log "already running (pid $(cat "$C_PIDFILE"))"
  else
    rm -f "$C_PIDFILE"
    port_open && die "port $IMFAAS_PEER_PORT is already in use by something else"
    write_config
    "$C_BIN" checkconfig --strict --config "$C_CONF" >&2 || die "config check failed ($C_CONF)"
    log "starting on 127.0.0.1:$IMFAAS_PEER_PORT, CPU $CENTRIFUGO_CPU (log $C_LOG)"
    # setsid: own session, outlives the calling shell; setsid and taskset both exec, so $! is
    # centrifugo's pid (Centrifugo writes the same pid to pid_file itself).
    setsid taskset -c "$CENTRIFUGO_CPU" "$C_BIN" --config "$C_CONF" </dev/null >>"$C_OUT" 2>&1 &
    local pid=$!
    local deadline=$((SECONDS + IMFAAS_WAIT_SECONDS))
    until health_ok; do
      if ! pid_live "$pid"; then
        tail -n 20 "$C_OUT" "$C_LOG" >&2 2>/dev/null || true
        die "centrifugo exited during startup"
      fi
      if [ "$SECONDS" -ge "$deadline" ]; then
        tail -n 20 "$C_OUT" "$C_LOG" >&2 2>/dev/null || true
        kill "$pid" 2>/dev/null || true
        die "no /health answer after ${IMFAAS_WAIT_SECONDS}s"
      fi
      sleep 0.2
    done
    [ "$(cat "$C_PIDFILE" 2>/dev/null)" = "$pid" ] || echo "$pid" >"$C_PIDFILE"
    log "ready (pid $pid, affinity $(taskset -cp "$pid" | sed 's/.*: //'))"
  fi
  printf 'ws://127.0.0.1:%s/connection/websocket\n' "$IMFAAS_PEER_PORT"
}

stop_server() {
  if ! c_alive; then
    log "not running"
    rm -f "$C_PIDFILE"
    return 0
  fi
  local pid; pid=$(cat "$C_PIDFILE")
  log "stopping (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + CENTRIFUGO_STOP_SECONDS))
  while pid_live "$pid" && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.2; done
  if pid_live "$pid"; then
    log "still alive after ${CENTRIFUGO_STOP_SECONDS}s; SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$C_PIDFILE"
}

status_server() {
  if c_alive && health_ok; then
    log "running (pid $(cat "$C_PIDFILE")), /health OK on 127.0.0.1:$IMFAAS_PEER_PORT"
  else
    log "not running on 127.0.0.1:$IMFAAS_PEER_PORT"
    return 1
  fi
}

case "${1:-}" in
  install | start | stop | status) "${1}_server" ;;
  *) echo "usage: $0 install|start|stop|status" >&2; exit 2 ;;
esac
