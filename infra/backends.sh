#!/usr/bin/env bash
# Install, start, wait for, check or stop every real backend imfaas uses, on 127.0.0.1:
#   bash infra/backends.sh install|start|wait|status|stop [postgres redis kafka cassandra s3]
# With no names it acts on all five. `start` also waits until each one is ready.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cmd=${1:-}
shift || true
names=("$@")
[ "${#names[@]}" -gt 0 ] || names=(postgres redis kafka cassandra s3)

# The readiness checks use real clients when a Python with the drivers is at hand.
if [ -z "${IMFAAS_PYTHON:-}" ] && [ -x "$here/../.venv/bin/python" ]; then
  export IMFAAS_PYTHON="$here/../.venv/bin/python"
fi
if [ -n "${IMFAAS_PYTHON:-}" ]; then
  export IMFAAS_CASSANDRA_PYTHON=${IMFAAS_CASSANDRA_PYTHON:-$IMFAAS_PYTHON}
  export IMFAAS_S3_PYTHON=${IMFAAS_S3_PYTHON:-$IMFAAS_PYTHON}
fi

# The Java servers (Kafka, Cassandra, S3Proxy) are fetched with Maven and run on Java 17.
ensure_toolchain() {
  # shellcheck source=infra/lib.sh
  . "$here/lib.sh"
  INFRA_NAME=backends
  command -v java >/dev/null 2>&1 || infra_apt_install openjdk-17-jre-headless
  command -v mvn >/dev/null 2>&1 || infra_apt_install maven
}

case "$cmd" in
  install)
    ensure_toolchain
    status=0
    for name in "${names[@]}"; do bash "$here/$name.sh" install || status=1; done
    exit "$status"
    ;;
  wait|status|stop)
    status=0
    for name in "${names[@]}"; do bash "$here/$name.sh" "$cmd" || status=1; done
    exit "$status"
    ;;
  start)
    ensure_toolchain
    # Start everything first (they boot in parallel), then wait for each.
    for name in "${names[@]}"; do bash "$here/$name.sh" start; done
    for name in "${names[@]}"; do bash "$here/$name.sh" wait; done
    ;;
  *)
    echo "usage: $0 install|start|wait|status|stop [postgres redis kafka cassandra s3]" >&2
    exit 2
    ;;
esac
