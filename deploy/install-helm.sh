#!/usr/bin/env bash
# Install the pinned helm with `go install` (from the Go module proxy) into $(go env GOPATH)/bin,
# unless that binary is already this version. Prints the binary's path; without Go it says so
# on stderr and exits 0 (the chart tests then skip, naming the reason).
set -euo pipefail
HELM_MODULE=helm.sh/helm/v3
HELM_VERSION=v3.22.0

# Go's own install place, for shells whose PATH lacks it.
command -v go >/dev/null || PATH="$PATH:/usr/local/go/bin"
if ! command -v go >/dev/null; then
  echo "install-helm: no go toolchain here; helm not installed" >&2
  exit 0
fi
bin="$(go env GOPATH)/bin/helm"
# A `go install` build records its module version in the binary.
if [ -x "$bin" ] && go version -m "$bin" 2>/dev/null | grep -q "mod[[:space:]]*$HELM_MODULE[[:space:]]*$HELM_VERSION"; then
  echo "$bin"
  exit 0
fi
echo "install-helm: building $HELM_MODULE@$HELM_VERSION (a few minutes, once)" >&2
GOTOOLCHAIN=local GOFLAGS=-mod=mod go install "$HELM_MODULE/cmd/helm@$HELM_VERSION" >&2
echo "$bin"
