"""HmsClient: the client-credentials grant and the message as FakeHms receives them."""

from __future__ import annotations

import json

import httpx
import pytest

from imfaas.functions.push.providers.hms_client import hms_outcome
from imfaas.functions.push.providers.push_payload import OutcomeKind
from imfaas.functions.push.tests.conftest import ProviderBench


async def test_message_as_push_kit_receives_it(hms_bench: ProviderBench) -> None:
    outcome = await hms_bench.client().send(hms_bench.notification())
    [accepted] = hms_bench.fake.accepted
    assert accepted.headers["authorization"] == f"Bearer {hms_bench.fake.access_tokens[0]}"
    message = accepted.body["message"]
    assert accepted.body["validate_only"] is False
    assert message["token"] == ["hms-token-AAAA"]
    assert json.loads(message["data"]) == {"conversation": "d:alice:bob", "seq": "42"}
    assert message["android"] == {
        "notification": {
            "title": "Alice",
            "body": "see you at 8",
            "click_action": {"type": 3},
            "tag": "d:alice:bob",
        }
    }
    assert outcome.provider_message_id


async def test_click_intent_and_badge_class_settings(hms_bench: ProviderBench) -> None:
    client = hms_bench.client(
        click_intent="intent://chat#Intent;scheme=imfaas;end", badge_class="io.imfaas.Main"
    )
    await client.send(hms_bench.notification())
    notification = hms_bench.fake.accepted[0].body["message"]["android"]["notification"]
    assert notification["click_action"] == {
        "type": 1,
        "intent": "intent://chat#Intent;scheme=imfaas;end",
    }
    assert notification["badge"] == {"set_num": 3, "class": "io.imfaas.Main"}


async def test_a_wrong_client_secret_is_rejected(hms_bench: ProviderBench) -> None:
    outcome = await hms_bench.client(client_secret="wrong").send(hms_bench.notification())
    assert (outcome.kind, outcome.status_code) == (OutcomeKind.REJECTED, 401)
    assert hms_bench.fake.send_calls == 0


def _answer(status: int, code: str, msg: str = "") -> httpx.Response:
    return httpx.Response(status, json={"code": code, "msg": msg, "requestId": "r1"})


@pytest.mark.parametrize(
    ("response", "kind"),
    [
        (_answer(200, "80000000"), OutcomeKind.DELIVERED),
        (_answer(200, "80100000", '{"illegal_tokens": ["t"]}'), OutcomeKind.INVALID_TOKEN),
        (_answer(400, "80300007"), OutcomeKind.INVALID_TOKEN),
        (_answer(400, "80300008"), OutcomeKind.REJECTED),
        (_answer(400, "80300002"), OutcomeKind.REJECTED),
        (_answer(400, "80100003"), OutcomeKind.REJECTED),
        (_answer(500, "81000001"), OutcomeKind.RETRY),
        (_answer(200, "81000001"), OutcomeKind.RETRY),
        (httpx.Response(502), OutcomeKind.RETRY),
        (httpx.Response(429, headers={"retry-after": "3"}), OutcomeKind.RETRY),
    ],
)
def test_result_code_mapping(response: httpx.Response, kind: OutcomeKind) -> None:
    assert hms_outcome(response, now=0.0).kind is kind
