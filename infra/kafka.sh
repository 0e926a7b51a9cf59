#!/usr/bin/env bash
# A real single-node Apache Kafka broker (KRaft: broker + controller in one JVM) for imfaas's tests.
#
#   infra/kafka.sh install   resolve the broker jars + a log4j2 backend from Maven Central (cached)
#   infra/kafka.sh start     write the config, format the storage once, start in the background
#   infra/kafka.sh wait      block until a client can fetch metadata (IMFAAS_WAIT_SECONDS)
#   infra/kafka.sh status    exit 0 only when the broker answers
#   infra/kafka.sh stop      TERM, then KILL after a grace period
#
# Listens on 127.0.0.1:$IMFAAS_KAFKA_PORT (PLAINTEXT) and 127.0.0.1:$IMFAAS_KAFKA_CONTROLLER_PORT
# (CONTROLLER). Data, logs and pid live in $IMFAAS_INFRA_RUN/kafka; jars in
# $IMFAAS_INFRA_HOME/dist/kafka-<version>. A restart reuses the formatted data dir. After a
# crash (kill -9) the restart takes ~10 s more: the controller refuses the new broker incarnation
# until the old one's broker.session.timeout.ms (9 s) expires.
#
# Version: Kafka 4.3.1.
#   - 4.x rather than 3.9.x: Maven Central serves kafka_2.13 4.0.0 ... 4.4.0 here, and 4.x brokers
#     run on Java 17, the machine's default JDK (also checked: it runs on Java 25).
#   - our client, kafka-python 2.3 (3.0.x knows broker versions up to 4.3 but its new network
#     stack stalled group syncs here), speaks the protocol versions 4.x still accepts.
#   - 4.x is KRaft-only (no ZooKeeper) and logs through log4j2. The kafka_2.13 pom brings only
#     slf4j-api 1.7.36 and no backend, so we add log4j-api + log4j-core and the slf4j *1.x*
#     binding log4j-slf4j-impl (log4j-slf4j2-impl would not bind to slf4j-api 1.7).

# shellcheck source=infra/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
INFRA_NAME=kafka

KAFKA_VERSION=${IMFAAS_KAFKA_VERSION:-4.3.1}
KAFKA_LOG4J_VERSION=2.25.3
KAFKA_COORDS=(
  "org.apache.kafka:kafka_2.13:$KAFKA_VERSION"
  "org.apache.logging.log4j:log4j-api:$KAFKA_LOG4J_VERSION"
  "org.apache.logging.log4j:log4j-core:$KAFKA_LOG4J_VERSION"
  "org.apache.logging.log4j:log4j-slf4j-impl:$KAFKA_LOG4J_VERSION"
)
KAFKA_DIST="$IMFAAS_INFRA_HOME/dist/kafka-$KAFKA_VERSION"
KAFKA_RUN="$IMFAAS_INFRA_RUN/kafka"
KAFKA_PIDFILE="$KAFKA_RUN/pid"
KAFKA_LOGFILE="$KAFKA_RUN/log/server.log"
KAFKA_OUTFILE="$KAFKA_RUN/log/kafka.out"
KAFKA_BOOTSTRAP="127.0.0.1:$IMFAAS_KAFKA_PORT"

kafka_alive() {  # our broker's pid is live: not a zombie, and its command line is ours (no reused pid)
  [ -f "$KAFKA_PIDFILE" ] || return 1
  local pid state; pid=$(cat "$KAFKA_PIDFILE")
  [ -n "$pid" ] && [ -r "/proc/$pid/stat" ] || return 1
  state=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1) || return 1
  [ -n "$state" ] && [ "$state" != Z ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "kafka.Kafka $KAFKA_RUN/server.properties"
}

kafka_java() {  # prints a java (17+) binary: $JAVA, $JAVA_HOME, PATH, then /usr/lib/jvm
  local cand
  for cand in "${JAVA:-}" "${JAVA_HOME:+$JAVA_HOME/bin/java}" "$(command -v java || true)" \
              /usr/lib/jvm/java-17-openjdk-amd64/bin/java /usr/lib/jvm/*/bin/java; do
    if [ -z "$cand" ] || [ ! -x "$cand" ]; then continue; fi
    local major
    major=$("$cand" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')
    major=${major#1.}
    if [ -n "$major" ] && [ "$major" -ge 17 ] 2>/dev/null; then printf '%s\n' "$cand"; return 0; fi
  done
  return 1
}

install_server() {
  kafka_java >/dev/null || infra_apt_install openjdk-17-jre-headless
  command -v mvn >/dev/null || infra_apt_install maven
  # a changed coordinate list (e.g. another log4j version) invalidates the cached jars
  local want; want=$(printf '%s\n' "${KAFKA_COORDS[@]}")
  if [ -f "$KAFKA_DIST/.complete" ] && [ "$(cat "$KAFKA_DIST/coords" 2>/dev/null)" != "$want" ]; then
    infra_log "coordinates changed; re-resolving $KAFKA_DIST"
    rm -rf "$KAFKA_DIST"
  fi
  if [ -f "$KAFKA_DIST/.complete" ]; then
    infra_log "kafka $KAFKA_VERSION already installed in $KAFKA_DIST"
    return 0
  fi
  rm -rf "${KAFKA_DIST:?}/lib"
  infra_maven_fetch "$KAFKA_DIST" "${KAFKA_COORDS[@]}"
  printf '%s\n' "$want" >"$KAFKA_DIST/coords"
  [ -f "$KAFKA_DIST/lib/kafka_2.13-$KAFKA_VERSION.jar" ] || {
    rm -f "$KAFKA_DIST/.complete"; infra_die "kafka_2.13-$KAFKA_VERSION.jar missing after resolve"; }
  infra_log "kafka $KAFKA_VERSION installed: $(find "$KAFKA_DIST/lib" -name '*.jar' | wc -l) jars"
}

kafka_write_config() {
  cat >"$KAFKA_RUN/server.properties" <<EOF
# written by infra/kafka.sh start -- single-node KRaft broker+controller for tests
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$IMFAAS_KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$IMFAAS_KAFKA_PORT,CONTROLLER://127.0.0.1:$IMFAAS_KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$IMFAAS_KAFKA_PORT,CONTROLLER://127.0.0.1:$IMFAAS_KAFKA_CONTROLLER_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$KAFKA_RUN/data
num.partitions=8
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=8
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=8
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
delete.topic.enable=true
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
log.retention.hours=168
log.segment.bytes=67108864
EOF
  cat >"$KAFKA_RUN/log4j2.properties" <<EOF
# written by infra/kafka.sh start
status = warn
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = $KAFKA_LOGFILE
appender.file.append = true
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.controller.name = org.apache.kafka.controller
logger.controller.level = INFO
logger.statechange.name = state.change.logger
logger.statechange.level = WARN
EOF
}

kafka_run_class() {  # kafka_run_class MAINCLASS ARGS...  (foreground, small heap)
  local java; java=$(kafka_java) || infra_die "no Java 17+ found (run: infra/kafka.sh install)"
  "$java" -Xms64m -Xmx256m -XX:+UseSerialGC -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$KAFKA_RUN/log4j2.properties" \
    -cp "$KAFKA_DIST/lib/*" "$@"
}

kafka_format() {  # format the storage once; a restart keeps it
  if [ -f "$KAFKA_RUN/data/meta.properties" ]; then return 0; fi
  local cluster_id
  cluster_id=$(kafka_run_class kafka.tools.StorageTool random-uuid 2>>"$KAFKA_OUTFILE" | tail -n 1)
  [ -n "$cluster_id" ] || infra_die "StorageTool random-uuid printed nothing (see $KAFKA_OUTFILE)"
  infra_log "formatting $KAFKA_RUN/data (cluster id $cluster_id)"
  # --standalone: this node is the only voter of a dynamic (KIP-853) controller quorum
  kafka_run_class kafka.tools.StorageTool format -t "$cluster_id" -c "$KAFKA_RUN/server.properties" \
    --standalone --ignore-formatted >>"$KAFKA_OUTFILE" 2>&1 \
    || { tail -n 20 "$KAFKA_OUTFILE" >&2; infra_die "storage format failed"; }
}

start_server() {
  mkdir -p "$KAFKA_RUN/data" "$KAFKA_RUN/log"
  if kafka_alive; then
    infra_log "already running (pid $(cat "$KAFKA_PIDFILE"))"
    return 0
  fi
  rm -f "$KAFKA_PIDFILE"
  if infra_port_open "$IMFAAS_KAFKA_PORT" || infra_port_open "$IMFAAS_KAFKA_CONTROLLER_PORT"; then
    infra_die "port $IMFAAS_KAFKA_PORT or $IMFAAS_KAFKA_CONTROLLER_PORT is taken by a process we did not start"
  fi
  [ -f "$KAFKA_DIST/.complete" ] || install_server
  local java; java=$(kafka_java) || infra_die "no Java 17+ found"
  # keep the previous run's logs once, start the new ones empty (wait's log check reads them)
  local f
  for f in "$KAFKA_LOGFILE" "$KAFKA_OUTFILE"; do [ -f "$f" ] && mv -f "$f" "$f.prev"; done
  kafka_write_config
  kafka_format
  infra_log "starting kafka $KAFKA_VERSION on $KAFKA_BOOTSTRAP"
  # setsid: its own session, so it outlives the calling shell; without a fork, so $! is java's pid
  # 2 GiB: the end-to-end suite gives every server its own topics (11 event types, each with
  # a .dlq, 16 partitions): a few thousand partitions by the end ran 512 MiB out of heap.
  setsid "$java" -Xms256m -Xmx2g -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true -Djava.net.preferIPv4Stack=true \
    -Dlog4j2.shutdownHookEnabled=false \
    -Dlog4j2.configurationFile="$KAFKA_RUN/log4j2.properties" -Dkafka.logs.dir="$KAFKA_RUN/log" \
    -cp "$KAFKA_DIST/lib/*" kafka.Kafka "$KAFKA_RUN/server.properties" \
    </dev/null >>"$KAFKA_OUTFILE" 2>&1 &
  echo $! >"$KAFKA_PIDFILE"
}

kafka_python() {  # prints a python that has kafka-python, or fails
  local py
  for py in "${IMFAAS_PYTHON:-}" python3; do
    if [ -z "$py" ] || ! command -v "$py" >/dev/null; then continue; fi
    "$py" -c 'import kafka.admin' >/dev/null 2>&1 && { printf '%s\n' "$py"; return 0; }
  done
  return 1
}

kafka_ready() {  # 0 when a client gets metadata with our broker in it (bash fallback: port + log)
  kafka_alive || return 1
  infra_port_open "$IMFAAS_KAFKA_PORT" || return 1
  local py
  if py=$(kafka_python); then
    timeout 20 "$py" - "$KAFKA_BOOTSTRAP" <<'PY' >/dev/null 2>&1
import logging, sys
logging.disable(logging.CRITICAL)
from kafka.admin import KafkaAdminClient
a = KafkaAdminClient(bootstrap_servers=sys.argv[1], request_timeout_ms=5000)
try:
    a.list_topics()
    sys.exit(0 if a.describe_cluster().get("brokers") else 1)
finally:
    a.close()
PY
  else
    grep -q "Kafka Server started" "$KAFKA_LOGFILE" 2>/dev/null
  fi
}

wait_server() {
  local deadline=$((SECONDS + IMFAAS_WAIT_SECONDS))
  until kafka_ready; do
    if ! kafka_alive; then
      infra_log "kafka is not running; last log lines:"
      tail -n 40 "$KAFKA_OUTFILE" "$KAFKA_LOGFILE" >&2 2>/dev/null || true
      return 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      infra_log "kafka not ready after ${IMFAAS_WAIT_SECONDS}s; last log lines:"
      tail -n 40 "$KAFKA_LOGFILE" >&2 2>/dev/null || true
      return 1
    fi
    sleep 1
  done
  infra_log "kafka is ready on $KAFKA_BOOTSTRAP"
}

stop_server() {
  if ! kafka_alive; then  # gone, a zombie, or a reused pid: nothing of ours to stop
    rm -f "$KAFKA_PIDFILE"
    return 0
  fi
  infra_log "stopping kafka (pid $(cat "$KAFKA_PIDFILE"))"
  infra_stop_pid "$KAFKA_PIDFILE" 60
}

status_server() {
  if kafka_ready; then
    echo "kafka $KAFKA_VERSION running on $KAFKA_BOOTSTRAP (pid $(cat "$KAFKA_PIDFILE"))"
    return 0
  fi
  echo "kafka not ready"
  return 1
}

infra_main "$@"
