"""What every PushProvider does, against each provider's fake over real sockets."""

from __future__ import annotations

import asyncio
import socket

import pytest

from imfaas.functions.push.providers.push_payload import OutcomeKind
from imfaas.functions.push.tests.conftest import CLIENT_TIMEOUT_S, ProviderBench
from imfaas.functions.push.tests.fake_push_server import (
    AUTH_EXPIRED,
    INVALID_TOKEN,
    SERVER_ERROR,
    UNAVAILABLE,
    UNREGISTERED,
    Answer,
    slow,
    too_many,
)


async def test_a_notification_is_delivered_and_recorded(bench: ProviderBench) -> None:
    client = bench.client()
    outcome = await client.send(bench.notification())
    assert outcome.kind is OutcomeKind.DELIVERED, outcome
    assert outcome.status_code == 200
    assert outcome.provider_message_id
    assert outcome.latency_ms > 0
    assert [a.token for a in bench.fake.accepted] == [bench.device_token]


async def test_the_access_token_is_reused_across_sends(bench: ProviderBench) -> None:
    client = bench.client()
    for seq in range(3):
        assert (await client.send(bench.notification(seq=seq))).kind is OutcomeKind.DELIVERED
    assert len(bench.fake.accepted) == 3
    assert len(bench.fake.access_tokens) == 1


async def test_concurrent_first_sends_share_one_token(bench: ProviderBench) -> None:
    client = bench.client()
    outcomes = await asyncio.gather(*(client.send(bench.notification(seq=n)) for n in range(8)))
    assert {o.kind for o in outcomes} == {OutcomeKind.DELIVERED}
    assert len(bench.fake.access_tokens) == 1


async def test_the_token_is_replaced_after_it_expires(bench: ProviderBench, clock) -> None:
    client = bench.client()
    await client.send(bench.notification())
    clock.advance(3600)
    assert (await client.send(bench.notification())).kind is OutcomeKind.DELIVERED
    assert len(bench.fake.access_tokens) == 2


@pytest.mark.parametrize(
    ("answer", "kind", "retry_after_s"),
    [
        (INVALID_TOKEN, OutcomeKind.INVALID_TOKEN, None),
        (UNREGISTERED, OutcomeKind.INVALID_TOKEN, None),
        (too_many("7"), OutcomeKind.RETRY, 7.0),
        (too_many(None), OutcomeKind.RETRY, None),
        (SERVER_ERROR, OutcomeKind.RETRY, None),
        (UNAVAILABLE, OutcomeKind.RETRY, None),
    ],
    ids=["invalid", "unregistered", "429-retry-after", "429-bare", "500", "503"],
)
async def test_each_failure_maps_to_its_outcome(
    bench: ProviderBench, answer: Answer, kind: OutcomeKind, retry_after_s: float | None
) -> None:
    bench.fake.script(bench.device_token, answer)
    outcome = await bench.client().send(bench.notification())
    assert (outcome.kind, outcome.retry_after_s) == (kind, retry_after_s), outcome
    assert outcome.status_code is not None
    assert outcome.reason
    assert bench.fake.accepted == []


async def test_a_script_per_token_leaves_other_tokens_alone(bench: ProviderBench) -> None:
    bench.fake.script(bench.device_token, INVALID_TOKEN)
    other = ("b2" * 32) if bench.name == "apns" else bench.device_token + "-other"
    client = bench.client()
    assert (await client.send(bench.notification(device_token=other))).kind is (
        OutcomeKind.DELIVERED
    )
    assert (await client.send(bench.notification())).kind is OutcomeKind.INVALID_TOKEN


async def test_an_expired_access_token_is_refreshed_once(bench: ProviderBench) -> None:
    client = bench.client()
    await client.send(bench.notification(seq=1))
    bench.fake.script_next(AUTH_EXPIRED)
    outcome = await client.send(bench.notification(seq=2))
    assert outcome.kind is OutcomeKind.DELIVERED, outcome
    assert len(bench.fake.access_tokens) == 2
    assert len(bench.fake.accepted) == 2
    assert bench.fake.send_calls == 3


async def test_an_access_token_refused_twice_is_not_refreshed_again(bench: ProviderBench) -> None:
    bench.fake.script_next(AUTH_EXPIRED, AUTH_EXPIRED)
    outcome = await bench.client().send(bench.notification())
    assert outcome.kind is OutcomeKind.REJECTED, outcome
    assert bench.fake.send_calls == 2
    assert bench.fake.accepted == []


async def test_a_slow_answer_is_a_retry_not_an_exception(bench: ProviderBench) -> None:
    bench.fake.script_next(slow(5.0))
    outcome = await bench.client().send(bench.notification())
    assert (outcome.kind, outcome.reason, outcome.status_code) == (
        OutcomeKind.RETRY,
        "timeout",
        None,
    )
    # Bounded by the client's time-out, not by the fake's five seconds.
    assert CLIENT_TIMEOUT_S * 1000 <= outcome.latency_ms < 4000


async def test_the_client_sends_again_after_a_timeout(bench: ProviderBench) -> None:
    client = bench.client()
    bench.fake.script_next(slow(5.0))
    assert (await client.send(bench.notification())).kind is OutcomeKind.RETRY
    assert (await client.send(bench.notification())).kind is OutcomeKind.DELIVERED


async def test_a_refused_connection_is_a_retry(bench: ProviderBench) -> None:
    # A port that was free a moment ago: nothing listens there.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    overrides = {"token_url": url} if bench.name == "hms" else {}
    outcome = await bench.client(base_url=url, **overrides).send(bench.notification())
    assert (outcome.kind, outcome.reason) == (OutcomeKind.RETRY, "connection")
