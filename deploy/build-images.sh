#!/usr/bin/env bash
# Build the gateway's image and one image per function with Docker, from the repository root
# (the build context). Usage: deploy/build-images.sh [--push] [name ...]
#   IMAGE_REGISTRY (default ghcr.io/imfaas) and IMAGE_TAG (default: the package version)
#   name the images <registry>/imfaas-<name>:<tag>, as helm/imfaas/values.yaml expects.
# Where Docker is missing (CI), it says so and exits 0: tests/deploy/ checks the Dockerfiles
# and runs each image's command outside Docker instead.
set -euo pipefail
cd "$(dirname "$0")/.."

push=0
if [ "${1:-}" = "--push" ]; then push=1; shift; fi
registry=${IMAGE_REGISTRY:-ghcr.io/imfaas}
tag=${IMAGE_TAG:-$(sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)}

if ! command -v docker >/dev/null || ! docker info >/dev/null 2>&1; then
  echo "docker is not available here; nothing built" >&2
  exit 0
fi

# Stale generated Dockerfiles would build images that differ from what the tests check.
py=${PYTHON:-.venv/bin/python}
[ -x "$py" ] || py=python3
"$py" deploy/dockerfiles.py --check

names=("$@")
if [ "${#names[@]}" -eq 0 ]; then
  names=(gateway)
  for f in deploy/images/*.Dockerfile; do
    n=$(basename "$f" .Dockerfile)
    [ "$n" = gateway ] || names+=("$n")
  done
fi

for name in "${names[@]}"; do
  image="$registry/imfaas-$name:$tag"
  echo "== $image"
  docker build --file "deploy/images/$name.Dockerfile" --tag "$image" .
  [ "$push" = 1 ] && docker push "$image"
done
