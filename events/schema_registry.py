"""The JSON Schemas under ``events/schemas/``, loaded once and resolved across files.

The hot path (``conforms``) needs only the compiled validators of ``jsonschema_rs``; the
Python ``jsonschema`` stack, which words the errors, is imported the first time an error is
described, so a function's cold start does not pay for it.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jsonschema_rs

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator
    from referencing import Registry
    from referencing._core import Resolver  # the type Registry.resolver() returns

SCHEMA_DIR = Path(__file__).parent / "schemas"
BASE = "https://imfaas.dev/schemas/"


@cache
def _documents() -> dict[str, dict[str, Any]]:
    documents: dict[str, dict[str, Any]] = {}
    for path in sorted(SCHEMA_DIR.glob("*/*.json")):
        documents[path.relative_to(SCHEMA_DIR).as_posix()] = json.loads(path.read_text())
    return documents


@cache
def _registry() -> tuple[Registry, dict[str, dict[str, Any]]]:
    from referencing import Registry, Resource

    documents = _documents()
    registry: Registry = Registry().with_resources(
        (doc["$id"], Resource.from_contents(doc)) for doc in documents.values()
    )
    return registry, documents


@cache
def _validator(name: str) -> Draft202012Validator | None:
    from jsonschema import Draft202012Validator

    registry, documents = _registry()
    schema = documents.get(name)
    if schema is None:
        return None
    return Draft202012Validator(schema, registry=registry)


@cache
def _fast_registry() -> Any:
    return jsonschema_rs.Registry([(doc["$id"], doc) for doc in _documents().values()])


@cache
def _fast_validator(name: str) -> Any:
    return jsonschema_rs.validator_for(_documents()[name], registry=_fast_registry())


def conforms(schema_name: str, data: Any) -> bool:
    """Whether data conforms to the named schema, checked fast enough for every message
    (compiled validator); ``data_problems`` says what is wrong. ``KeyError`` if unknown."""
    return bool(_fast_validator(schema_name).is_valid(data))


def schema_resolver(name: str) -> tuple[dict[str, Any], Resolver]:
    """The named schema and a resolver for its ``$ref``s; ``KeyError`` for an unknown name."""
    registry, documents = _registry()
    schema = documents[name]
    return schema, registry.resolver(base_uri=schema["$id"])


def schema_names() -> list[str]:
    """Every schema file, as ``<folder>/<name>.json``."""
    return sorted(_documents())


def frame_problems(frame: Any) -> list[str]:
    """What is wrong with a WebSocket frame by its type's schema (empty when it conforms)."""
    if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
        return ["frame is not an object with a string type"]
    validator = _validator(f"frames/{frame['type']}.json")
    if validator is None:
        return [f"no schema for frame type {frame['type']!r}"]
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(frame)
    ]


def data_problems(schema_name: str, data: Any) -> list[str]:
    """What is wrong with an event's data or an HTTP body by the named schema."""
    validator = _validator(schema_name)
    if validator is None:
        return [f"no schema {schema_name!r}"]
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(data)
    ]
