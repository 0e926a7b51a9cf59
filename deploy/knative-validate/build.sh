#!/usr/bin/env bash
# Build knative-validate (Knative Serving's own admission checks, offline) into
# $(go env GOPATH)/bin when its sources changed; print the binary's path. The Knative modules
# come through the Go module proxy, pinned by go.mod/go.sum. Without Go, say so on stderr and
# exit 0 (the test that uses it then skips, naming the reason).
set -euo pipefail
cd "$(dirname "$0")"
command -v go >/dev/null || PATH="$PATH:/usr/local/go/bin"
if ! command -v go >/dev/null; then
  echo "knative-validate: no go toolchain here; not built" >&2
  exit 0
fi
bin="$(go env GOPATH)/bin/imfaas-knative-validate"
sum=$(cat go.mod go.sum ./*.go | sha256sum | cut -d' ' -f1)
if [ -x "$bin" ] && [ "$(cat "$bin.sources" 2>/dev/null)" = "$sum" ]; then
  echo "$bin"
  exit 0
fi
echo "knative-validate: building (a minute or two, once)" >&2
GOTOOLCHAIN=local go build -o "$bin" . >&2
echo "$sum" > "$bin.sources"
echo "$bin"
