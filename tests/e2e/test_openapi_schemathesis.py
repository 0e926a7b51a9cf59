"""Schemathesis against a live ``imfaas dev``, driven by events/openapi.yaml.

Generated requests (valid and invalid bodies) for every operation must never get a 5xx; every
status, content type, header and body the server answers must be the ones the document names.
"""

from __future__ import annotations

import itertools

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from imfaas.events.openapi_document import OPENAPI_FILE

schema = schemathesis.openapi.from_path(OPENAPI_FILE)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
_users = itertools.count(1)


@pytest.fixture(scope="module")
def http(server) -> requests.Session:
    with requests.Session() as session:
        yield session


def fresh_access_token(http: requests.Session, base_url: str) -> str:
    """A logged-in device's token, so that logout is tried with a valid one too."""
    credentials = {"username": f"st{next(_users)}", "password": "schemathesis-pw"}
    http.post(f"{base_url}/v1/register", json=credentials, timeout=10)
    answer = http.post(f"{base_url}/v1/login", json=credentials, timeout=10)
    answer.raise_for_status()
    return answer.json()["access_token"]


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_openapi_document(case, server, http) -> None:
    headers = None
    if case.path == "/v1/logout" and next(_users) % 2:
        headers = {"Authorization": f"Bearer {fresh_access_token(http, server.url)}"}
    case.call_and_validate(base_url=server.url, session=http, headers=headers, checks=CHECKS)
