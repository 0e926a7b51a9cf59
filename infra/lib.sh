#!/usr/bin/env bash
# Shared pieces of the infra/<server>.sh scripts. Source it; do not run it.
#
# Layout:
#   $IMFAAS_INFRA_HOME/dist/<name>-<version>/   cached downloads (jars, binaries): kept across runs
#   $IMFAAS_INFRA_RUN/<name>/{data,log}         runtime data and logs: throwaway
#   $IMFAAS_INFRA_RUN/<name>/pid                the server's pid
# Every server listens on 127.0.0.1 only, on the ports below (override with the variables).
# They sit below Linux's ephemeral range (32768-60999), so no client socket can hold one.

set -euo pipefail

IMFAAS_INFRA_HOME=${IMFAAS_INFRA_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/imfaas-infra}
IMFAAS_INFRA_RUN=${IMFAAS_INFRA_RUN:-/tmp/imfaas-infra}
IMFAAS_WAIT_SECONDS=${IMFAAS_WAIT_SECONDS:-180}

IMFAAS_POSTGRES_PORT=${IMFAAS_POSTGRES_PORT:-25432}
IMFAAS_REDIS_PORT=${IMFAAS_REDIS_PORT:-26379}
IMFAAS_KAFKA_PORT=${IMFAAS_KAFKA_PORT:-29092}
IMFAAS_KAFKA_CONTROLLER_PORT=${IMFAAS_KAFKA_CONTROLLER_PORT:-29093}
IMFAAS_CASSANDRA_PORT=${IMFAAS_CASSANDRA_PORT:-29042}
IMFAAS_CASSANDRA_STORAGE_PORT=${IMFAAS_CASSANDRA_STORAGE_PORT:-27000}
IMFAAS_S3_PORT=${IMFAAS_S3_PORT:-28333}

infra_log() { printf '[infra %s] %s\n' "${INFRA_NAME:-?}" "$*" >&2; }
infra_die() { infra_log "ERROR: $*"; exit 1; }

infra_dirs() {  # infra_dirs NAME -> creates and prints the run dir
  local dir="$IMFAAS_INFRA_RUN/$1"
  mkdir -p "$dir/data" "$dir/log"
  printf '%s\n' "$dir"
}

infra_pid_alive() {  # infra_pid_alive PIDFILE
  [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null
}

infra_port_open() {  # infra_port_open PORT
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

infra_wait_for() {  # infra_wait_for DESCRIPTION LOGFILE COMMAND...  (retries COMMAND until it succeeds)
  local what=$1 logfile=$2; shift 2
  local deadline=$((SECONDS + IMFAAS_WAIT_SECONDS))
  until "$@" >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      infra_log "$what not ready after ${IMFAAS_WAIT_SECONDS}s; last log lines:"
      [ -f "$logfile" ] && tail -n 40 "$logfile" >&2
      return 1
    fi
    sleep 1
  done
  infra_log "$what is ready"
}

infra_stop_pid() {  # infra_stop_pid PIDFILE [SECONDS]  (TERM, then KILL after the grace period)
  local pidfile=$1 grace=${2:-30}
  infra_pid_alive "$pidfile" || { rm -f "$pidfile"; return 0; }
  local pid; pid=$(cat "$pidfile")
  kill "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + grace))
  while kill -0 "$pid" 2>/dev/null; do
    if [ "$SECONDS" -ge "$deadline" ]; then kill -9 "$pid" 2>/dev/null || true; break; fi
    sleep 0.5
  done
  rm -f "$pidfile"
}

infra_apt_install() {  # infra_apt_install PACKAGE...  (only what is missing; apt-get update once)
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ "${#missing[@]}" -eq 0 ] && return 0
  infra_log "apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

infra_maven_fetch() {  # infra_maven_fetch DESTDIR GROUP:ARTIFACT:VERSION...  (jars + runtime deps)
  local dest=$1; shift
  [ -f "$dest/.complete" ] && return 0
  mkdir -p "$dest/lib"
  local pom="$dest/pom.xml" deps=""
  for coord in "$@"; do
    IFS=: read -r g a v <<<"$coord"
    deps+="<dependency><groupId>$g</groupId><artifactId>$a</artifactId><version>$v</version></dependency>"
  done
  cat >"$pom" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
<groupId>io.imfaas.infra</groupId><artifactId>fetch</artifactId><version>1</version>
<packaging>pom</packaging><dependencies>$deps</dependencies></project>
POM
  infra_log "resolving $* with mvn"
  mvn -q -B -f "$pom" org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$dest/lib" >&2
  touch "$dest/.complete"
}

infra_main() {  # infra_main "$@"  -- dispatches to <command>_server functions of the caller
  local cmd=${1:-}
  case "$cmd" in
    install|start|stop|status|wait) "${cmd}_server" ;;
    *) echo "usage: $0 install|start|stop|status|wait" >&2; exit 2 ;;
  esac
}
