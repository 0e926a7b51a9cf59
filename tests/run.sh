#!/usr/bin/env bash
# The test command. Installs imfaas with its dev extras into .venv (once), then runs:
#   1. ruff;
#   2. each function's own tests alone (as its CI job would);
#   3. the whole suite on the embedded adapters;
#   4. the real-backend suites: installs (cached) and starts PostgreSQL, Redis, Kafka,
#      Cassandra and an S3 server on 127.0.0.1 with infra/backends.sh, runs every port's
#      contract suite against them, then the whole end-to-end suite against the local
#      cluster (`imfaas up`: two gateways, a process per function, the Kafka dispatcher),
#      and stops the servers it started.
# `bash tests/run.sh --embedded` stops after step 3 (no servers needed).
set -euo pipefail
cd "$(dirname "$0")/.."

embedded_only=0
if [ "${1:-}" = "--embedded" ]; then embedded_only=1; shift; fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[dev]"

# The chart tests (tests/deploy) need the pinned helm and Knative's admission checks: built
# once with Go, then cached.
echo "== helm, knative-validate"
bash deploy/install-helm.sh
bash deploy/knative-validate/build.sh

echo "== ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .

echo "== each function alone"
for fn in functions/*/; do
  name=$(basename "$fn")
  [ -d "$fn/tests" ] || continue
  echo "-- pytest functions/$name"
  .venv/bin/python -m pytest -q "functions/$name"
done

echo "== the whole suite, embedded adapters"
.venv/bin/python -m pytest -q "$@"

[ "$embedded_only" = 1 ] && exit 0

echo "== real backends"
export IMFAAS_PYTHON="$PWD/.venv/bin/python"
started=()
for name in postgres redis kafka cassandra s3; do
  bash infra/"$name".sh status >/dev/null 2>&1 || started+=("$name")
done
if [ "${#started[@]}" -gt 0 ]; then
  trap 'bash infra/backends.sh stop "${started[@]}" || true' EXIT
  bash infra/backends.sh install "${started[@]}"
  bash infra/backends.sh start "${started[@]}"
fi
echo "-- contract suites on the real servers"
IMFAAS_BACKENDS=real .venv/bin/python -m pytest -q shared/tests/contract -k real
echo "-- end-to-end suite on the local cluster"
# -rP: the kill stream prints its counts and recovery times (shown for passing tests too).
IMFAAS_BACKENDS=real .venv/bin/python -m pytest -q -rP tests/e2e
