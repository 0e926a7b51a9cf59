"""POST /v1/login under brute force: 429 rate_limited with Retry-After, before argon2 runs."""

from __future__ import annotations

from typing import Any

import pytest

from imfaas.events import catalog
from imfaas.events.codec import new_event
from imfaas.shared.errors import BackendUnavailable

ATTACKER = "203.0.113.66"
THROTTLE = {
    "login_user_free_failures": 3,
    "login_ip_free_failures": 6,
    "login_lock_base_s": 30,
    "login_lock_max_s": 120,
}


@pytest.fixture
async def env(make_login):
    env = await make_login(**THROTTLE)
    await env.register("alice", "correct-horse")
    return env


@pytest.fixture
def verifications(env, monkeypatch) -> list[str]:
    """Every password argon2 checked, in order."""
    checked: list[str] = []
    verify = env.fn._passwords.verify

    async def counting(stored_hash: str | None, password: str) -> bool:
        checked.append(password)
        return await verify(stored_hash, password)

    monkeypatch.setattr(env.fn._passwords, "verify", counting)
    return checked


async def attempt(
    env, username: str, password: str, ip: str = ATTACKER
) -> tuple[int, Any, dict[str, str]]:
    """One login from an IP: (status, body, headers the gateway should send)."""
    event = new_event(
        catalog.HTTP_LOGIN,
        "/test",
        {"username": username, "password": password},
        {catalog.EXT_CLIENT_IP: ip},
    )
    reply = await env.fn.handle(event)
    assert reply is not None
    data = reply.get_data()
    return data["status"], data["body"], data.get("headers", {})


async def exhaust(env, username: str, ip: str = ATTACKER) -> None:
    """Wrong passwords until the username is locked."""
    for _ in range(THROTTLE["login_user_free_failures"] + 1):
        status, _, _ = await attempt(env, username, "wrong-password", ip)
        assert status == 401


async def test_locked_username_answers_429_with_retry_after(env):
    await exhaust(env, "alice")

    status, body, headers = await attempt(env, "alice", "wrong-password")

    assert status == 429
    assert body["error"]["code"] == "rate_limited"
    assert body["error"]["message"]
    assert headers == {"Retry-After": "30"}


async def test_a_locked_username_refuses_even_the_right_password_without_checking_it(
    env, verifications
):
    await exhaust(env, "alice")
    checked = len(verifications)

    status, _, _ = await attempt(env, "alice", "correct-horse", ip="198.51.100.1")

    assert status == 429
    assert len(verifications) == checked


async def test_unknown_and_known_usernames_get_the_same_answers(env):
    answers = {}
    for name, ip in (("alice", "198.51.100.1"), ("mallory", "198.51.100.2")):
        answers[name] = [
            (status, body["error"]["code"], headers)
            for status, body, headers in [
                await attempt(env, name, "wrong-password", ip) for _ in range(5)
            ]
        ]
    assert answers["alice"] == answers["mallory"]
    assert [a[0] for a in answers["alice"]] == [401, 401, 401, 401, 429]


async def test_a_success_clears_the_username_count(env):
    for _ in range(THROTTLE["login_user_free_failures"] - 1):
        await attempt(env, "alice", "wrong-password")
    status, _, _ = await attempt(env, "alice", "correct-horse")
    assert status == 200

    outcomes = [(await attempt(env, "alice", "wrong-password"))[0] for _ in range(4)]

    assert outcomes == [401] * 4


async def test_failures_from_one_ip_over_many_usernames_lock_that_ip_only(env):
    for n in range(THROTTLE["login_ip_free_failures"] + 1):
        status, _, _ = await attempt(env, f"guess{n}", "wrong-password")
        assert status == 401

    status, _, headers = await attempt(env, "alice", "correct-horse")
    assert (status, headers) == (429, {"Retry-After": "30"})
    status, _, _ = await attempt(env, "alice", "correct-horse", ip="198.51.100.1")
    assert status == 200


async def test_malformed_logins_are_not_counted(env):
    for _ in range(10):
        status, _, _ = await attempt(env, "alice", "short")
        assert status == 400

    status, _, _ = await attempt(env, "alice", "correct-horse")
    assert status == 200


async def test_login_fails_closed_while_the_cache_is_down(env, verifications, monkeypatch):
    async def down(*args: object) -> None:
        raise BackendUnavailable("cache down")

    monkeypatch.setattr(env.ports.cache, "incr", down)
    monkeypatch.setattr(env.ports.cache, "get", down)

    status, body, _ = await attempt(env, "alice", "correct-horse")

    assert (status, body["error"]["code"]) == (503, "unavailable")
    assert verifications == []
