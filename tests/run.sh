#!/usr/bin/env bash
# The test command: installs imfaas with its dev extras into .venv (once), then runs the linter,
# the whole suite, and each function's own tests alone (as its CI job would).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[dev]"

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

echo "== the whole suite"
.venv/bin/python -m pytest -q "$@"
