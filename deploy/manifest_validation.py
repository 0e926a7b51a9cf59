"""Validate rendered manifests offline: core kinds with kubernetes-validate's bundled schemas,
Knative kinds with the CRD schemas vendored in deploy/crd-schemas (deploy/crd_schemas.py).

Both are strict: a field the API server does not know is an error, as ``kubectl apply``
(strict field validation) makes it. ``helm template ... | python deploy/manifest_validation.py``
prints one line per problem and exits 1 when there is any.
"""

from __future__ import annotations

import copy
import json
import sys
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

CRD_SCHEMAS = Path(__file__).resolve().parent / "crd-schemas"
KUBERNETES_VERSION = "1.31.0"

# Kinds with no schema reachable offline, and why they are let through.
UNCHECKED_KINDS = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"): (
        "the Prometheus operator's module is not served by the Go module proxy here"
    ),
}


def _strict(schema: Any) -> Any:
    """The schema with unknown fields refused wherever the CRD lists the known ones."""
    if isinstance(schema, list):
        return [_strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    strict = {key: _strict(value) for key, value in schema.items()}
    if (
        "properties" in strict
        and "additionalProperties" not in strict
        and not strict.get("x-kubernetes-preserve-unknown-fields")
    ):
        strict["additionalProperties"] = False
    return strict


@cache
def crd_validators() -> dict[tuple[str, str], jsonschema.Draft7Validator]:
    """(apiVersion, kind) -> a validator of the vendored openAPIV3Schema."""
    validators = {}
    for path in sorted(CRD_SCHEMAS.glob("*.json")):
        document = json.loads(path.read_text())
        schema = copy.deepcopy(document["openAPIV3Schema"])
        # The API server takes these on every object, listed by the CRD or not.
        schema.setdefault("properties", {}).update(
            apiVersion={"type": "string"}, kind={"type": "string"}, metadata={"type": "object"}
        )
        schema = _strict(schema)
        validators[(document["apiVersion"], document["kind"])] = jsonschema.Draft7Validator(schema)
    return validators


def problems(manifest: dict[str, Any]) -> list[str]:
    """What is wrong with one manifest (empty when it validates)."""
    key = (manifest.get("apiVersion", ""), manifest.get("kind", ""))
    name = f"{key[1]}/{manifest.get('metadata', {}).get('name', '?')}"
    if key in UNCHECKED_KINDS:
        return []
    validator = crd_validators().get(key)
    if validator is not None:
        return [
            f"{name}: {'.'.join(map(str, error.absolute_path)) or '<root>'}: {error.message}"
            for error in validator.iter_errors(manifest)
        ]
    try:
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        return [f"{name}: {'.'.join(map(str, exc.path)) or '<root>'}: {exc.message}"]
    except kubernetes_validate.SchemaNotFoundError:
        return [f"{name}: no schema for {key[0]} {key[1]}"]
    return []


def documents(text: str) -> list[dict[str, Any]]:
    """The non-empty YAML documents of a multi-document stream."""
    return [doc for doc in yaml.safe_load_all(text) if doc]


def main() -> int:
    found = [line for doc in documents(sys.stdin.read()) for line in problems(doc)]
    print(*found, sep="\n") if found else print("every manifest validates")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
