"""Vendor the openAPIV3Schema of the Knative kinds the chart renders, from the Knative modules.

The CRD files come out of the Go modules' zips at the pinned versions below, as the Go
module proxy in ``go env GOPROXY`` serves them, so validation in CI needs no network. Rerun after a
version bump: ``python deploy/crd_schemas.py``; ``--check`` fails if the files differ.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import urllib.request
import zipfile
from pathlib import Path

import yaml

OUT = Path(__file__).resolve().parent / "crd-schemas"

# Knative 1.15: serving v0.42, eventing v0.42, eventing-kafka-broker v0.42.
MODULES = {
    "knative.dev/serving": "v0.42.3",
    "knative.dev/eventing": "v0.42.3",
    "knative.dev/eventing-kafka-broker": "v0.42.0",
}

# (module, CRD file in it, version of the kind): the kinds the chart uses or may use.
CRDS = (
    ("knative.dev/serving", "config/core/300-resources/service.yaml", "v1"),
    ("knative.dev/eventing", "config/core/resources/broker.yaml", "v1"),
    ("knative.dev/eventing", "config/core/resources/trigger.yaml", "v1"),
    (
        "knative.dev/eventing-kafka-broker",
        "control-plane/config/eventing-kafka-broker/100-source/100-kafka-source.yaml",
        "v1beta1",
    ),
    (
        "knative.dev/eventing-kafka-broker",
        "control-plane/config/eventing-kafka-broker/100-sink/100-kafka-sink.yaml",
        "v1alpha1",
    ),
)


def schema_file(api_version: str, kind: str) -> Path:
    """Where the schema of ``kind`` in ``group/version`` is vendored."""
    return OUT / f"{api_version.replace('/', '_')}_{kind}.json"


def module_file(module: str, version: str, path: str) -> str:
    """One file of a module, from its zip as the Go module proxy (GOPROXY) serves it."""
    cache = Path.home() / ".cache" / "imfaas" / "go-modules"
    archive = cache / f"{module.replace('/', '_')}@{version}.zip"
    if not archive.exists():
        proxies = subprocess.run(
            ["go", "env", "GOPROXY"], capture_output=True, text=True, check=True
        ).stdout
        proxy = next(p for p in proxies.strip().replace("|", ",").split(",") if "://" in p)
        cache.mkdir(parents=True, exist_ok=True)
        url = f"{proxy.rstrip('/')}/{module}/@v/{version}.zip"
        with urllib.request.urlopen(url, timeout=120) as response:
            archive.write_bytes(response.read())
    with zipfile.ZipFile(archive) as zipped:
        return zipped.read(f"{module}@{version}/{path}").decode()


def extract() -> dict[Path, str]:
    """Each vendored file's path and text."""
    files: dict[Path, str] = {}
    for module, path, version in CRDS:
        crd = yaml.safe_load(module_file(module, MODULES[module], path))
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        served = {v["name"]: v for v in crd["spec"]["versions"]}
        document = {
            "source": f"{module}@{MODULES[module]}/{path}",
            "apiVersion": f"{group}/{version}",
            "kind": kind,
            "openAPIV3Schema": served[version]["schema"]["openAPIV3Schema"],
        }
        files[schema_file(f"{group}/{version}", kind)] = json.dumps(document, indent=1) + "\n"
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if a file is out of date")
    args = parser.parse_args(argv)
    files = extract()
    stale = [p for p, text in files.items() if not p.exists() or p.read_text() != text]
    if args.check:
        for path in stale:
            print(f"out of date: {path}")
        return 1 if stale else 0
    OUT.mkdir(exist_ok=True)
    for path in stale:
        path.write_text(files[path])
    return 0


if __name__ == "__main__":
    sys.exit(main())
