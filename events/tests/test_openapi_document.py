"""events/openapi.yaml: a valid OpenAPI 3.1 document, generated from the HTTP JSON Schemas."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
import yaml
from jsonschema import Draft202012Validator

from imfaas.events.openapi_document import OPENAPI_FILE, build_openapi, render_openapi
from imfaas.events.schema_registry import SCHEMA_DIR, data_problems

DOCUMENT = build_openapi()
PROTOCOL_STATUSES = {
    ("/v1/register", "post"): {"201", "400", "409", "413", "500", "503"},
    ("/v1/login", "post"): {"200", "400", "401", "413", "429", "500", "503"},
    ("/v1/token/refresh", "post"): {"200", "400", "401", "413", "500", "503"},
    ("/v1/logout", "post"): {"204", "400", "401", "413", "500", "503"},
    ("/healthz", "get"): {"200"},
}


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from refs(item)


def test_the_committed_file_is_the_generated_document():
    text = OPENAPI_FILE.read_text("utf-8")

    assert text == render_openapi(), "regenerate: python -m imfaas.events.openapi_document"
    assert yaml.safe_load(text) == DOCUMENT


def test_the_document_is_valid_openapi_3_1():
    schemathesis.openapi.from_dict(copy.deepcopy(DOCUMENT)).validate()
    assert DOCUMENT["openapi"].startswith("3.1")


def test_the_validator_refuses_a_broken_document():
    broken = copy.deepcopy(DOCUMENT)
    del broken["paths"]["/v1/login"]["post"]["responses"]["200"]["description"]

    with pytest.raises(Exception, match="description"):
        schemathesis.openapi.from_dict(broken).validate()


def test_every_reference_resolves_inside_the_document():
    for ref in set(refs(DOCUMENT)):
        assert ref.startswith("#/components/"), ref
        _, section, kind, name = ref.split("/")
        assert name in DOCUMENT[section][kind], ref


def test_every_http_body_schema_is_a_component():
    files = {path.stem for path in (SCHEMA_DIR / "http").glob("*.json")}

    assert files <= DOCUMENT["components"]["schemas"].keys()


@pytest.mark.parametrize(("path", "method"), sorted(PROTOCOL_STATUSES))
def test_each_operation_documents_every_status_it_can_answer(path, method):
    responses = DOCUMENT["paths"][path][method]["responses"]

    assert set(responses) == PROTOCOL_STATUSES[(path, method)]


def test_errors_share_the_error_body_and_429_names_retry_after():
    responses = DOCUMENT["components"]["responses"]
    for name, response in responses.items():
        schema = response["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/error.response"}, name
    assert responses["RateLimited"]["headers"]["Retry-After"]["required"] is True


@pytest.mark.parametrize(
    ("component", "file", "instance"),
    [
        ("login.request", "http/login.request.json", {"username": "alice", "password": "p" * 8}),
        ("login.request", "http/login.request.json", {"username": "A!", "password": "p"}),
        ("register.response", "http/register.response.json", {"user_id": "u:1"}),
        ("error.response", "http/error.response.json", {"error": {"code": "rate_limited"}}),
    ],
)
def test_components_judge_bodies_as_the_json_schemas_do(component, file, instance):
    """The inlined schema agrees with its source file (refs to defs.json included)."""
    root = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$ref": f"#/components/schemas/{component}",
        "components": DOCUMENT["components"],
    }
    openapi_ok = Draft202012Validator(root).is_valid(instance)

    assert openapi_ok == (data_problems(file, instance) == [])


DRAFT = "https://json-schema.org/draft/2020-12/schema"
