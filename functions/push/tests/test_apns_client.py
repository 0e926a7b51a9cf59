"""ApnsClient: the provider token, headers and payload as FakeApns receives them, over HTTP/2."""

from __future__ import annotations

import asyncio

import httpx
import jwt
import pytest

from imfaas.functions.push.providers.apns_client import (
    APNS_PRODUCTION_URL,
    APNS_SANDBOX_URL,
    ApnsSettings,
    apns_collapse_id,
    apns_id,
    apns_outcome,
)
from imfaas.functions.push.providers.push_payload import MAX_BODY_BYTES, OutcomeKind
from imfaas.functions.push.tests.conftest import (
    APNS_BUNDLE_ID,
    APNS_KEY_ID,
    APNS_TEAM_ID,
    ProviderBench,
    TestKeys,
)
from imfaas.functions.push.tests.fake_providers import FakeApns
from imfaas.functions.push.tests.fake_push_server import TlsFiles


def _fake(bench: ProviderBench) -> FakeApns:
    assert isinstance(bench.fake, FakeApns)
    return bench.fake


async def test_headers_and_payload_as_apns_receives_them(apns_bench: ProviderBench, clock) -> None:
    outcome = await apns_bench.client().send(apns_bench.notification())
    [accepted] = apns_bench.fake.accepted
    headers = accepted.headers
    assert headers["apns-topic"] == APNS_BUNDLE_ID
    assert headers["apns-push-type"] == "alert"
    assert headers["apns-priority"] == "10"
    assert headers["apns-expiration"] == str(int(clock()) + 86400)
    assert headers["apns-collapse-id"] == "d:alice:bob"
    assert headers["apns-id"] == apns_id("msg-0001") == outcome.provider_message_id
    assert accepted.body == {
        "aps": {
            "alert": {"title": "Alice", "body": "see you at 8"},
            "sound": "default",
            "thread-id": "d:alice:bob",
            "badge": 3,
        },
        "conversation": "d:alice:bob",
        "seq": 42,
    }


async def test_the_provider_token_is_an_es256_jwt_of_the_team(
    apns_bench: ProviderBench, clock
) -> None:
    await apns_bench.client().send(apns_bench.notification())
    scheme, _, token = apns_bench.fake.accepted[0].headers["authorization"].partition(" ")
    assert scheme == "bearer"
    assert jwt.get_unverified_header(token) == {"alg": "ES256", "kid": APNS_KEY_ID, "typ": "JWT"}
    assert jwt.decode(token, options={"verify_signature": False}) == {
        "iss": APNS_TEAM_ID,
        "iat": int(clock()),
    }


async def test_the_provider_token_is_renewed_after_fifty_minutes(
    apns_bench: ProviderBench, clock
) -> None:
    client = apns_bench.client()
    await client.send(apns_bench.notification())
    clock.advance(50 * 60 - 1)
    await client.send(apns_bench.notification())
    assert len(apns_bench.fake.access_tokens) == 1
    clock.advance(1)
    await client.send(apns_bench.notification())
    assert len(apns_bench.fake.access_tokens) == 2


async def test_a_token_past_an_hour_is_refused_and_renewed_once(
    apns_bench: ProviderBench, clock
) -> None:
    client = apns_bench.client(token_refresh_s=2 * 3600.0)
    await client.send(apns_bench.notification())
    clock.advance(3601)
    outcome = await client.send(apns_bench.notification())
    assert outcome.kind is OutcomeKind.DELIVERED
    assert len(apns_bench.fake.access_tokens) == 2
    assert apns_bench.fake.send_calls == 3


async def test_sends_share_one_http2_connection(apns_bench: ProviderBench) -> None:
    client = apns_bench.client()
    for seq in range(3):
        assert (await client.send(apns_bench.notification(seq=seq))).kind is (OutcomeKind.DELIVERED)
    burst = await asyncio.gather(*(client.send(apns_bench.notification(seq=n)) for n in range(20)))
    assert {o.kind for o in burst} == {OutcomeKind.DELIVERED}
    assert len(apns_bench.fake.accepted) == 23
    assert len(_fake(apns_bench).connections) == 1


async def test_the_fake_refuses_http_1_1(apns_bench: ProviderBench, tls_files: TlsFiles) -> None:
    async with httpx.AsyncClient(verify=tls_files.client_context()) as http1:
        response = await http1.post(f"{apns_bench.fake.url}/3/device/{'a1' * 32}", json={})
    assert (response.http_version, response.status_code) == ("HTTP/1.1", 505)


async def test_a_token_signed_with_an_unknown_key_is_rejected(
    apns_bench: ProviderBench, keys: TestKeys
) -> None:
    outcome = await apns_bench.client(private_key=keys.other_ec_pem).send(apns_bench.notification())
    assert (outcome.kind, outcome.reason, outcome.status_code) == (
        OutcomeKind.REJECTED,
        "InvalidProviderToken",
        403,
    )


async def test_another_team_is_rejected(apns_bench: ProviderBench) -> None:
    outcome = await apns_bench.client(team_id="OTHERTEAM1").send(apns_bench.notification())
    assert (outcome.kind, outcome.reason) == (OutcomeKind.REJECTED, "InvalidProviderToken")


async def test_a_malformed_device_token_is_invalid(apns_bench: ProviderBench) -> None:
    outcome = await apns_bench.client().send(apns_bench.notification(device_token="abc123"))
    assert (outcome.kind, outcome.reason) == (OutcomeKind.INVALID_TOKEN, "BadDeviceToken")


async def test_a_token_for_another_app_is_invalid(apns_bench: ProviderBench) -> None:
    outcome = await apns_bench.client(bundle_id="io.other.app").send(apns_bench.notification())
    assert (outcome.kind, outcome.reason) == (OutcomeKind.INVALID_TOKEN, "DeviceTokenNotForTopic")


async def test_long_text_fits_the_4096_byte_payload(apns_bench: ProviderBench) -> None:
    note = apns_bench.notification(title="題" * 500, body="語" * 5000, collapse_key="k" * 300)
    outcome = await apns_bench.client(mutable_content=True).send(note)
    assert outcome.kind is OutcomeKind.DELIVERED, outcome
    [accepted] = apns_bench.fake.accepted
    assert len(accepted.body["aps"]["alert"]["body"].encode()) <= MAX_BODY_BYTES
    assert accepted.body["aps"]["mutable-content"] == 1
    assert accepted.headers["apns-collapse-id"] == apns_collapse_id("k" * 300)
    assert len(accepted.headers["apns-collapse-id"]) == 64


def test_apns_id_is_stable_per_idempotency_key() -> None:
    assert apns_id("m1") == apns_id("m1") != apns_id("m2")


def test_the_environment_decides_the_endpoint() -> None:
    settings = ApnsSettings("T", "K", "pem", "io.app")
    assert settings.endpoint() == APNS_PRODUCTION_URL
    assert ApnsSettings("T", "K", "pem", "io.app", use_sandbox=True).endpoint() == (
        APNS_SANDBOX_URL
    )
    local = ApnsSettings("T", "K", "pem", "io.app", use_sandbox=True, base_url="https://h:1/")
    assert local.endpoint() == "https://h:1"


@pytest.mark.parametrize(
    ("status", "reason", "kind"),
    [
        (410, "ExpiredToken", OutcomeKind.INVALID_TOKEN),
        (400, "DeviceTokenNotForTopic", OutcomeKind.INVALID_TOKEN),
        (400, "BadCollapseId", OutcomeKind.REJECTED),
        (413, "PayloadTooLarge", OutcomeKind.REJECTED),
        (403, "InvalidProviderToken", OutcomeKind.REJECTED),
        (429, "TooManyProviderTokenUpdates", OutcomeKind.RETRY),
        (503, "Shutdown", OutcomeKind.RETRY),
    ],
)
def test_error_mapping(status: int, reason: str, kind: OutcomeKind) -> None:
    outcome = apns_outcome(httpx.Response(status, json={"reason": reason}), now=0.0)
    assert (outcome.kind, outcome.reason, outcome.status_code) == (kind, reason, status)
