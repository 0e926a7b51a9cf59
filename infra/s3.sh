#!/usr/bin/env bash
# Throwaway S3-compatible object store for imfaas tests: S3Proxy (Apache-2.0) with its filesystem
# backend, standing in for MinIO (AGPL, which we never build, download or vendor).
#
#   infra/s3.sh install   S3Proxy jar + runtime deps from Maven Central into the dist cache (needs mvn, Java 17+)
#   infra/s3.sh start     launch in the background on 127.0.0.1:$IMFAAS_S3_PORT; prints the endpoint; no-op if running
#   infra/s3.sh wait      until ListBuckets with our credentials succeeds (boto3 if importable, else port open)
#   infra/s3.sh status    exit 0 only when it answers (same probe as wait)
#   infra/s3.sh stop      SIGTERM (then SIGKILL), data kept
#
# Endpoint http://127.0.0.1:28333, path-style, region us-east-1, SigV4 (V2 also accepted).
# Credentials: IMFAAS_S3_ACCESS_KEY (imfaas) / IMFAAS_S3_SECRET_KEY (imfaas-secret-key).
# S3Proxy checks header signatures (403 SignatureDoesNotMatch / InvalidAccessKeyId), clock skew
# (403 RequestTimeTooSkewed), presigned-URL signatures, signed headers and expiry (403), and
# x-amz-content-sha256 against the body (400). Anonymous requests get 403.
# It does NOT verify the newer x-amz-checksum-* values (a wrong CRC32 is accepted): we set
# s3proxy.ignore-unknown-headers, else boto3 >= 1.36's default CRC32 header gets 501. Object
# tagging answers 501 NotImplemented. V2 (query Signature=) URLs are accepted too, as MinIO does.
# Objects live in $IMFAAS_INFRA_RUN/s3/data/<bucket>/<key> and survive stop/start.
# infra/s3/check.py runs the decisive checks against a running server.

# Pinned: S3Proxy 3.0.0 (2026) is the release tried here: it passes all 25 checks of
# infra/s3/check.py with boto3 1.44 and runs on Java 17 (its jar is built for 17). The maintainer
# reported problems with 3.1.0's Jetty 12 upgrade; rerun the checks before moving past 3.0.x.
S3PROXY_VERSION=3.0.0
S3_STOP_SECONDS=20

INFRA_NAME=s3
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

S3_HERE=$(cd "$(dirname "$0")" && pwd)
S3_PORT=$IMFAAS_S3_PORT
S3_ACCESS_KEY=${IMFAAS_S3_ACCESS_KEY:-imfaas}
S3_SECRET_KEY=${IMFAAS_S3_SECRET_KEY:-imfaas-secret-key}
S3_ENDPOINT="http://127.0.0.1:$S3_PORT"
S3_DIST=$IMFAAS_INFRA_HOME/dist/s3proxy-$S3PROXY_VERSION
S3_RUN=$IMFAAS_INFRA_RUN/s3
S3_PIDFILE=$S3_RUN/pid
S3_LOG=$S3_RUN/log/s3proxy.log
S3_JAVA_OPTS=${IMFAAS_S3_JAVA_OPTS:-"-Xms64m -Xmx384m -XX:+UseSerialGC -XX:TieredStopAtLevel=1"}

s3_java() {  # prints a java (17+) to use
  local j
  for j in "${JAVA_HOME:+$JAVA_HOME/bin/java}" "$(command -v java || true)"; do
    if [ -z "$j" ] || [ ! -x "$j" ]; then continue; fi
    local major
    major=$("$j" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = \([0-9]*\).*/\1/p')
    if [ "${major:-0}" -ge 17 ]; then printf '%s\n' "$j"; return 0; fi
  done
  return 1
}

s3_alive() {  # our pidfile names a live S3Proxy (not a recycled pid)
  infra_pid_alive "$S3_PIDFILE" &&
    tr '\0' ' ' <"/proc/$(cat "$S3_PIDFILE")/cmdline" 2>/dev/null | grep -q 'org.gaul.s3proxy.Main'
}

s3_python() {  # prints a python that can import boto3, if any
  local py
  for py in "${IMFAAS_S3_PYTHON:-}" python3 python; do
    if [ -z "$py" ] || ! command -v "$py" >/dev/null; then continue; fi
    if "$py" -c 'import boto3' 2>/dev/null; then printf '%s\n' "$py"; return 0; fi
  done
  return 1
}

S3_PY_CHECKED=0 S3_PY=""
s3_ready() {  # ListBuckets with our credentials (or, without boto3, the port accepts)
  if [ "$S3_PY_CHECKED" = 0 ]; then
    S3_PY=$(s3_python || true); S3_PY_CHECKED=1
    [ -n "$S3_PY" ] || infra_log "boto3 not importable: readiness = port $S3_PORT open"
  fi
  if [ -n "$S3_PY" ]; then
    IMFAAS_S3_PORT=$S3_PORT IMFAAS_S3_ACCESS_KEY=$S3_ACCESS_KEY IMFAAS_S3_SECRET_KEY=$S3_SECRET_KEY \
      "$S3_PY" "$S3_HERE/s3/check.py" --ready >/dev/null 2>&1
  else
    infra_port_open "$S3_PORT"
  fi
}

s3_prop() {  # escape a value for a java .properties file
  local v=${1//\\/\\\\}
  printf '%s' "$v"
}

s3_write_config() {  # rewritten on every start so port, paths and credentials follow the environment
  cat >"$S3_RUN/s3proxy.conf" <<CONF
# written by infra/s3.sh on every start
s3proxy.endpoint=$S3_ENDPOINT
s3proxy.authorization=aws-v2-or-v4
s3proxy.identity=$(s3_prop "$S3_ACCESS_KEY")
s3proxy.credential=$(s3_prop "$S3_SECRET_KEY")
# boto3 >= 1.36 sends x-amz-checksum-crc32 on every upload; S3Proxy 3.0.0 answers 501 to it otherwise
s3proxy.ignore-unknown-headers=true
jclouds.provider=filesystem-nio2
jclouds.identity=$(s3_prop "$S3_ACCESS_KEY")
jclouds.credential=$(s3_prop "$S3_SECRET_KEY")
jclouds.filesystem.basedir=$S3_RUN/data
CONF
  cat >"$S3_RUN/logback.xml" <<'XML'
<configuration>
  <appender name="OUT" class="ch.qos.logback.core.ConsoleAppender">
    <encoder><pattern>%d{HH:mm:ss.SSS} %-5level %logger{36} - %msg%n</pattern></encoder>
  </appender>
  <root level="${S3PROXY_LOG_LEVEL:-INFO}"><appender-ref ref="OUT"/></root>
</configuration>
XML
}

install_server() {
  s3_java >/dev/null || infra_apt_install openjdk-17-jre-headless
  command -v mvn >/dev/null || infra_apt_install maven
  infra_maven_fetch "$S3_DIST" "org.gaul:s3proxy:$S3PROXY_VERSION"
  [ -f "$S3_DIST/lib/s3proxy-$S3PROXY_VERSION.jar" ] || infra_die "s3proxy jar missing in $S3_DIST/lib"
  infra_log "s3proxy $S3PROXY_VERSION in $S3_DIST"
}

start_server() {
  infra_dirs s3 >/dev/null
  if s3_alive; then
    infra_log "already running (pid $(cat "$S3_PIDFILE")) on $S3_ENDPOINT"
    printf '%s\n' "$S3_ENDPOINT"
    return 0
  fi
  rm -f "$S3_PIDFILE"
  infra_port_open "$S3_PORT" && infra_die "port $S3_PORT is already in use by a process we did not start"
  [ -f "$S3_DIST/.complete" ] || install_server
  local java; java=$(s3_java) || infra_die "no Java 17+ found"
  s3_write_config
  [ -f "$S3_LOG" ] && mv -f "$S3_LOG" "$S3_LOG.prev"
  infra_log "starting s3proxy $S3PROXY_VERSION on $S3_ENDPOINT (log $S3_LOG)"
  # setsid: its own session, so it outlives the calling shell; no fork in between, so $! is java's pid
  # shellcheck disable=SC2086  # S3_JAVA_OPTS is a list of options
  setsid "$java" $S3_JAVA_OPTS -Djava.net.preferIPv4Stack=true -Djava.awt.headless=true \
    -Dlogback.configurationFile="$S3_RUN/logback.xml" -cp "$S3_DIST/lib/*" \
    org.gaul.s3proxy.Main --properties "$S3_RUN/s3proxy.conf" \
    </dev/null >>"$S3_LOG" 2>&1 &
  echo $! >"$S3_PIDFILE"
  printf '%s\n' "$S3_ENDPOINT"
}

wait_server() {
  local deadline=$((SECONDS + IMFAAS_WAIT_SECONDS))
  until s3_ready; do
    if ! s3_alive; then
      infra_log "s3proxy is not running; last log lines:"
      tail -n 40 "$S3_LOG" >&2 2>/dev/null || true
      return 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      infra_log "s3proxy not ready after ${IMFAAS_WAIT_SECONDS}s; last log lines:"
      tail -n 40 "$S3_LOG" >&2 2>/dev/null || true
      return 1
    fi
    sleep 0.5
  done
  infra_log "s3proxy is ready on $S3_ENDPOINT"
}

stop_server() {
  if ! s3_alive; then
    infra_log "not running"
    rm -f "$S3_PIDFILE"
    return 0
  fi
  infra_log "stopping (pid $(cat "$S3_PIDFILE"))"
  infra_stop_pid "$S3_PIDFILE" "$S3_STOP_SECONDS"
}

status_server() {
  if s3_alive && s3_ready; then
    echo "s3proxy $S3PROXY_VERSION running on $S3_ENDPOINT (pid $(cat "$S3_PIDFILE"))"
    return 0
  fi
  echo "s3proxy not ready on $S3_ENDPOINT"
  return 1
}

infra_main "$@"
