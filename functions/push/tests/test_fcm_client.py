"""FcmClient: the JWT grant and the v1 message as FakeFcm receives them, and the error mapping."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from imfaas.functions.push.providers.fcm_client import ServiceAccount, fcm_message, fcm_outcome
from imfaas.functions.push.providers.push_payload import (
    PREVIEW_OFF_BODY,
    OutcomeKind,
    PushNotification,
)
from imfaas.functions.push.tests.conftest import ProviderBench, TestKeys
from imfaas.functions.push.tests.fake_providers import FCM_SCOPE, FakeFcm, fcm_message_problem

_FCM_ERROR = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
_BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest"


async def test_grant_and_message_as_fcm_receives_them(fcm_bench: ProviderBench, clock) -> None:
    fake = fcm_bench.fake
    assert isinstance(fake, FakeFcm)
    outcome = await fcm_bench.client().send(fcm_bench.notification())
    assert outcome.provider_message_id == "projects/imfaas-test/messages/1"
    [grant] = fake.grants
    assert grant["iss"] == fake.client_email
    assert grant["scope"] == FCM_SCOPE
    assert grant["aud"] == fake.token_url
    assert (grant["iat"], grant["exp"]) == (int(clock()), int(clock()) + 3600)
    [accepted] = fake.accepted
    assert accepted.headers["authorization"] == f"Bearer {fake.access_tokens[0]}"
    assert accepted.body == {
        "message": {
            "token": "fcm-registration-token-1",
            "notification": {"title": "Alice", "body": "see you at 8"},
            "data": {"conversation": "d:alice:bob", "seq": "42", "badge": "3"},
            "android": {"priority": "high", "collapse_key": "d:alice:bob"},
            "apns": {"payload": {"aps": {"badge": 3}}},
        }
    }


async def test_previews_off_sends_the_placeholder_and_no_text(fcm_bench: ProviderBench) -> None:
    await fcm_bench.client().send(fcm_bench.notification(body=None, badge=None))
    [accepted] = fcm_bench.fake.accepted
    assert accepted.body["message"]["notification"]["body"] == PREVIEW_OFF_BODY
    assert "see you" not in json.dumps(accepted.body)
    assert "apns" not in accepted.body["message"]


async def test_a_grant_signed_with_another_key_is_refused(
    fcm_bench: ProviderBench, keys: TestKeys
) -> None:
    outcome = await fcm_bench.client(private_key=keys.other_rsa_pem).send(fcm_bench.notification())
    assert (outcome.kind, outcome.status_code) == (OutcomeKind.REJECTED, 400)
    assert fcm_bench.fake.access_tokens == []
    assert fcm_bench.fake.send_calls == 0


async def test_the_token_uri_setting_overrides_the_service_account(
    fcm_bench: ProviderBench,
) -> None:
    # A token endpoint that answers 404: the override is used, and a 4xx grant is permanent.
    client = fcm_bench.client(token_uri=fcm_bench.fake.url + "/elsewhere")
    outcome = await client.send(fcm_bench.notification())
    assert (outcome.kind, outcome.status_code) == (OutcomeKind.REJECTED, 404)


def test_a_long_message_still_passes_fcms_checks() -> None:
    note = PushNotification("t", "fcm", "T" * 5000, "語" * 5000, "c", 1, "k", badge=1)
    assert fcm_message_problem(fcm_message(note)) is None


def test_the_fake_refuses_what_fcm_refuses() -> None:
    good = {"message": {"token": "t", "data": {"seq": "1"}}}
    assert fcm_message_problem(good) is None
    assert fcm_message_problem({"message": {"token": "t", "data": {"seq": 1}}}) == (
        "message.data[0].value",
        "Invalid value at 'message.data[0].value' (TYPE_STRING), 1",
    )
    assert fcm_message_problem({"message": {"data": {}}})[0] == "message.token"
    assert fcm_message_problem({"message": {"token": "t", "topic": "x"}})[0] == "message.token"
    assert fcm_message_problem({"message": {"token": "t", "colour": 1}})[0] == "message.colour"
    assert fcm_message_problem({"message": {"token": "t", "data": {"google.x": "1"}}})
    assert fcm_message_problem({"message": {"token": "t", "android": {"priority": "max"}}})
    assert fcm_message_problem({"message": {"token": "t", "data": {"x": "y" * 5000}}})


def _error(status: int, *details: dict[str, Any], headers: dict[str, str] | None = None):
    body = {"error": {"code": status, "status": "X", "details": list(details)}}
    return httpx.Response(status, json=body, headers=headers)


@pytest.mark.parametrize(
    ("response", "kind", "reason"),
    [
        (
            _error(400, {"@type": _FCM_ERROR, "errorCode": "INVALID_ARGUMENT"}),
            OutcomeKind.INVALID_TOKEN,
            "INVALID_ARGUMENT",
        ),
        # The same code about a payload field is our bug, not the token's.
        (
            _error(
                400,
                {"@type": _FCM_ERROR, "errorCode": "INVALID_ARGUMENT"},
                {"@type": _BAD_REQUEST, "fieldViolations": [{"field": "message.data[0].value"}]},
            ),
            OutcomeKind.REJECTED,
            "INVALID_ARGUMENT",
        ),
        (
            _error(400, {"@type": _BAD_REQUEST, "fieldViolations": [{"field": "message"}]}),
            OutcomeKind.REJECTED,
            "X",
        ),
        (
            _error(404, {"@type": _FCM_ERROR, "errorCode": "UNREGISTERED"}),
            OutcomeKind.INVALID_TOKEN,
            "UNREGISTERED",
        ),
        # A 404 without UNREGISTERED (a wrong project) must not remove tokens.
        (_error(404), OutcomeKind.REJECTED, "X"),
        (
            _error(403, {"@type": _FCM_ERROR, "errorCode": "SENDER_ID_MISMATCH"}),
            OutcomeKind.REJECTED,
            "SENDER_ID_MISMATCH",
        ),
        (
            _error(401, {"@type": _FCM_ERROR, "errorCode": "THIRD_PARTY_AUTH_ERROR"}),
            OutcomeKind.REJECTED,
            "THIRD_PARTY_AUTH_ERROR",
        ),
        (httpx.Response(502, text="<html>bad gateway</html>"), OutcomeKind.RETRY, "http_502"),
    ],
)
def test_error_mapping(response: httpx.Response, kind: OutcomeKind, reason: str) -> None:
    outcome = fcm_outcome(response, now=0.0)
    assert (outcome.kind, outcome.reason, outcome.status_code) == (
        kind,
        reason,
        response.status_code,
    )


def test_retry_after_as_a_date_counts_from_the_clock() -> None:
    response = _error(
        503,
        {"@type": _FCM_ERROR, "errorCode": "UNAVAILABLE"},
        headers={"retry-after": "Tue, 14 Nov 2023 22:14:20 GMT"},
    )
    assert fcm_outcome(response, now=1_700_000_000.0).retry_after_s == 60.0


def test_a_service_account_needs_every_field() -> None:
    info = {"project_id": "p", "client_email": "e", "private_key": "k", "token_uri": "u"}
    assert ServiceAccount.from_json(json.dumps(info)).project_id == "p"
    with pytest.raises(ValueError, match="token_uri"):
        ServiceAccount.from_mapping({**info, "token_uri": ""})
