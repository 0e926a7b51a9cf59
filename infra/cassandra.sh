#!/usr/bin/env bash
# Apache Cassandra 5.0 single-node test server (the CQL stand-in for ScyllaDB in imfaas's tests).
#
#   infra/cassandra.sh install   resolve cassandra-all + runtime deps from Maven Central (cached)
#   infra/cassandra.sh start     launch in the background (pidfile + logs in the run dir); no-op if running
#   infra/cassandra.sh wait      block until a CQL client can SELECT from system.local
#   infra/cassandra.sh status    exit 0 only when the node answers CQL
#   infra/cassandra.sh stop      TERM (Cassandra drains and flushes), KILL after a grace period
#
# Jars:    $IMFAAS_INFRA_HOME/dist/cassandra-<version>/lib
# Runtime: $IMFAAS_INFRA_RUN/cassandra/{conf,data,log,pid}; data is kept across stop/start.
# Listens on 127.0.0.1 only: CQL on IMFAAS_CASSANDRA_PORT (29042), storage on IMFAAS_CASSANDRA_STORAGE_PORT
# (27000); no JMX port. Config: infra/cassandra/{cassandra.yaml,logback.xml,jvm.options}.
#
# Optional: IMFAAS_CASSANDRA_JAVA (a java binary, Java 11 or 17), IMFAAS_CASSANDRA_PYTHON (a python with
# cassandra-driver, for the readiness check; default python3), IMFAAS_CASSANDRA_COMMITLOG_SYNC
# (batch (default) | periodic: see cassandra.yaml), IMFAAS_CASSANDRA_STOP_GRACE (seconds, default 60).

# shellcheck disable=SC2034  # read by lib.sh (infra_log)
INFRA_NAME=cassandra
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CASSANDRA_VERSION=5.0.9
CASSANDRA_CONF_SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/cassandra"
CASSANDRA_DIST="$IMFAAS_INFRA_HOME/dist/cassandra-$CASSANDRA_VERSION"
CASSANDRA_RUN="$IMFAAS_INFRA_RUN/cassandra"
CASSANDRA_PIDFILE="$CASSANDRA_RUN/pid"
CASSANDRA_LOG="$CASSANDRA_RUN/log/system.log"
CASSANDRA_STDOUT="$CASSANDRA_RUN/log/stdout.log"
CASSANDRA_COMMITLOG_SYNC=${IMFAAS_CASSANDRA_COMMITLOG_SYNC:-batch}
CASSANDRA_PYTHON=${IMFAAS_CASSANDRA_PYTHON:-python3}

java_major() {  # java_major JAVA -> prints the feature version (11, 17, ...)
  "$1" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.specification\.version = //p'
}

find_java() {  # prints a Java 17 (preferred) or 11 binary, or fails
  local cand
  for cand in ${IMFAAS_CASSANDRA_JAVA:-} /usr/lib/jvm/java-17-openjdk-*/bin/java /usr/lib/jvm/*17*/bin/java \
      "$(command -v java || true)" /usr/lib/jvm/java-11-openjdk-*/bin/java /usr/lib/jvm/*11*/bin/java; do
    if [ -z "$cand" ] || [ ! -x "$cand" ]; then continue; fi
    case "$(java_major "$cand")" in 17|11) printf '%s\n' "$cand"; return 0 ;; esac
  done
  return 1
}

install_server() {
  command -v mvn >/dev/null 2>&1 || infra_apt_install maven
  find_java >/dev/null || infra_apt_install openjdk-17-jre-headless
  find_java >/dev/null || infra_die "no Java 11 or 17 found (Cassandra 5.0 runs on those only)"
  # Cassandra's pom brings logback-classic/logback-core (its logging backend) and slf4j; nothing to add.
  infra_maven_fetch "$CASSANDRA_DIST" "org.apache.cassandra:cassandra-all:$CASSANDRA_VERSION"
  [ -f "$CASSANDRA_DIST/lib/cassandra-all-$CASSANDRA_VERSION.jar" ] || infra_die "cassandra-all jar missing"
  ls "$CASSANDRA_DIST"/lib/logback-classic-*.jar >/dev/null 2>&1 || infra_die "logback-classic missing"
  infra_log "Cassandra $CASSANDRA_VERSION in $CASSANDRA_DIST"
}

render_conf() {  # writes conf/cassandra.yaml and conf/logback.xml into the run dir
  local conf="$CASSANDRA_RUN/conf" data="$CASSANDRA_RUN/data" sed_extra
  mkdir -p "$conf/triggers" "$data"/{data,commitlog,saved_caches,hints,cdc_raw} "$CASSANDRA_RUN/log"
  case "$CASSANDRA_COMMITLOG_SYNC" in
    batch) sed_extra='' ;;
    periodic) sed_extra='s/^#periodic# //' ;;  # the period line (5.0 refuses it with batch)
    *) infra_die "IMFAAS_CASSANDRA_COMMITLOG_SYNC must be periodic or batch" ;;
  esac
  sed -e "s|@DATA_DIR@|$data|g" -e "s|@NATIVE_PORT@|$IMFAAS_CASSANDRA_PORT|g" \
      -e "s|@STORAGE_PORT@|$IMFAAS_CASSANDRA_STORAGE_PORT|g" \
      -e "s|@COMMITLOG_SYNC@|$CASSANDRA_COMMITLOG_SYNC|g" ${sed_extra:+-e "$sed_extra"} \
      "$CASSANDRA_CONF_SRC/cassandra.yaml" >"$conf/cassandra.yaml.tmp"
  mv "$conf/cassandra.yaml.tmp" "$conf/cassandra.yaml"
  cp "$CASSANDRA_CONF_SRC/logback.xml" "$conf/logback.xml"
}

cassandra_alive() {  # our Cassandra runs: unlike kill -0, false for a zombie not yet reaped or a reused pid
  [ -f "$CASSANDRA_PIDFILE" ] || return 1
  grep -qs CassandraDaemon "/proc/$(cat "$CASSANDRA_PIDFILE")/cmdline"
}

start_server() {
  if cassandra_alive; then
    infra_log "already running (pid $(cat "$CASSANDRA_PIDFILE"))"
    return 0
  fi
  rm -f "$CASSANDRA_PIDFILE"
  [ -f "$CASSANDRA_DIST/.complete" ] || install_server
  local port
  for port in "$IMFAAS_CASSANDRA_PORT" "$IMFAAS_CASSANDRA_STORAGE_PORT"; do
    ! infra_port_open "$port" || infra_die "port $port is already in use by another process"
  done
  local java; java=$(find_java) || infra_die "no Java 11 or 17 found; run: $0 install"
  render_conf
  # Keep one previous log: the "ready" fallback greps system.log, which must be this run's.
  [ -f "$CASSANDRA_LOG" ] && mv -f "$CASSANDRA_LOG" "$CASSANDRA_LOG.1"
  [ -f "$CASSANDRA_STDOUT" ] && mv -f "$CASSANDRA_STDOUT" "$CASSANDRA_STDOUT.1"
  local conf="$CASSANDRA_RUN/conf" opts=()
  mapfile -t opts < <(sed -e 's/#.*//' -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//' -e '/^$/d' \
    "$CASSANDRA_CONF_SRC/jvm.options")
  opts+=(
    "-Dcassandra.config=file://$conf/cassandra.yaml"
    "-Dcassandra.storagedir=$CASSANDRA_RUN/data"
    "-Dcassandra.logdir=$CASSANDRA_RUN/log"
    "-Dcassandra.triggers_dir=$conf/triggers"
    "-Dlogback.configurationFile=$conf/logback.xml"
    "-Dcassandra-foreground=yes"
    "-XX:HeapDumpPath=$CASSANDRA_RUN/log"
    -cp "$CASSANDRA_DIST/lib/*"
    org.apache.cassandra.service.CassandraDaemon
  )
  infra_log "starting Cassandra $CASSANDRA_VERSION with $java (CQL 127.0.0.1:$IMFAAS_CASSANDRA_PORT)"
  printf '%s\n' "$java" "${opts[@]}" >"$CASSANDRA_RUN/log/command-line"
  cd "$CASSANDRA_RUN" || exit 1
  nohup "$java" "${opts[@]}" >"$CASSANDRA_STDOUT" 2>&1 </dev/null &
  echo $! >"$CASSANDRA_PIDFILE"
  infra_log "pid $(cat "$CASSANDRA_PIDFILE"); logs in $CASSANDRA_RUN/log"
}

cql_ready() {  # the node answers a CQL query (driver if importable, else port + log line)
  infra_port_open "$IMFAAS_CASSANDRA_PORT" || return 1
  if "$CASSANDRA_PYTHON" -c 'import cassandra.cluster' >/dev/null 2>&1; then
    "$CASSANDRA_PYTHON" - "$IMFAAS_CASSANDRA_PORT" >/dev/null 2>&1 <<'PY'
import logging, sys
logging.disable(logging.CRITICAL)
from cassandra.cluster import Cluster
from cassandra.policies import RoundRobinPolicy
c = Cluster(["127.0.0.1"], port=int(sys.argv[1]), protocol_version=4, connect_timeout=3,
            control_connection_timeout=3, load_balancing_policy=RoundRobinPolicy())
try:
    row = c.connect().execute("SELECT release_version FROM system.local", timeout=5).one()
    sys.exit(0 if row and row.release_version else 1)
finally:
    c.shutdown()
PY
  else
    grep -q 'Starting listening for CQL clients' "$CASSANDRA_LOG" 2>/dev/null
  fi
}

status_server() {
  cassandra_alive && cql_ready
}

wait_server() {
  local deadline=$((SECONDS + IMFAAS_WAIT_SECONDS))
  until status_server; do
    if ! cassandra_alive; then
      infra_log "Cassandra is not running; last lines of $CASSANDRA_STDOUT and system.log:"
      tail -n 30 "$CASSANDRA_STDOUT" >&2 2>/dev/null || true
      tail -n 20 "$CASSANDRA_LOG" >&2 2>/dev/null || true
      return 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      infra_log "Cassandra not ready after ${IMFAAS_WAIT_SECONDS}s; last log lines:"
      tail -n 40 "$CASSANDRA_LOG" >&2 2>/dev/null || true
      return 1
    fi
    sleep 1
  done
  infra_log "Cassandra is ready (CQL on 127.0.0.1:$IMFAAS_CASSANDRA_PORT)"
}

stop_server() {
  if ! cassandra_alive; then
    rm -f "$CASSANDRA_PIDFILE"
    infra_log "not running"
    return 0
  fi
  infra_log "stopping pid $(cat "$CASSANDRA_PIDFILE")"
  # On TERM Cassandra's shutdown hook drains: flushes memtables and closes the commit log cleanly.
  infra_stop_pid "$CASSANDRA_PIDFILE" "${IMFAAS_CASSANDRA_STOP_GRACE:-60}"
  infra_log "stopped"
}

infra_main "$@"
