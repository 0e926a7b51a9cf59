"""Login brute force over real HTTP: 429 rate_limited with Retry-After, per user and per IP.

The server trusts loopback as a proxy, so each test speaks from an address of its own
(X-Forwarded-For) and the per-IP counts of one test never reach another.
"""

from __future__ import annotations

import pytest

from imfaas.client import ImfaasClient

PASSWORD = "correct-horse-battery"
THROTTLE = {
    "IMFAAS_LOGIN_USER_FREE_FAILURES": "3",
    "IMFAAS_LOGIN_IP_FREE_FAILURES": "8",
    "IMFAAS_LOGIN_LOCK_BASE_S": "30",
    "IMFAAS_LOGIN_LOCK_MAX_S": "60",
    "IMFAAS_TRUSTED_PROXIES": "127.0.0.0/8",
}


@pytest.fixture(scope="module")
def throttled(dev_server_factory):
    return dev_server_factory(env=THROTTLE)


async def login(
    client: ImfaasClient, username: str, password: str, ip: str
) -> tuple[int, dict, str]:
    """(status, body, Retry-After) of one POST /v1/login from a client address."""
    body = {"username": username, "password": password}
    headers = {"X-Forwarded-For": ip}
    url = client.base_url + "/v1/login"
    async with client._http.post(url, json=body, headers=headers) as response:
        return response.status, await response.json(), response.headers.get("Retry-After", "")


async def test_a_guessed_username_is_locked_and_then_refuses_even_its_password(throttled):
    async with ImfaasClient(throttled.url) as client:
        await client.register("victim", PASSWORD)
        answers = [
            await login(client, "victim", f"guess-number-{n}", "198.51.100.1") for n in range(5)
        ]

        assert [status for status, _, _ in answers] == [401, 401, 401, 401, 429]
        _, body, retry_after = answers[-1]
        assert body["error"]["code"] == "rate_limited"
        assert retry_after == "30"
        # From anywhere, even with the right password, until the lock ends.
        assert (await login(client, "victim", PASSWORD, "203.0.113.50"))[0] == 429
        # Another account from the attacker's address is not locked by the victim's lock.
        await client.register("bystander", PASSWORD)
        assert (await login(client, "bystander", PASSWORD, "198.51.100.1"))[0] == 200


async def test_unknown_usernames_are_throttled_like_known_ones(throttled):
    async with ImfaasClient(throttled.url) as client:
        answers = [
            await login(client, "nobody-here", f"guess-number-{n}", "198.51.100.2")
            for n in range(5)
        ]

    assert [status for status, _, _ in answers] == [401, 401, 401, 401, 429]
    assert answers[-1][2] == "30"


async def test_many_usernames_from_one_address_lock_the_address(throttled):
    async with ImfaasClient(throttled.url) as client:
        await client.register("spray-target", PASSWORD)
        statuses = [
            (await login(client, f"spray{n}", "guess-password", "198.51.100.3"))[0]
            for n in range(9)
        ]
        locked = await login(client, "spray-target", PASSWORD, "198.51.100.3")
        elsewhere = await login(client, "spray-target", PASSWORD, "198.51.100.4")

    # Eight free failures, then the address's first turn, then its lock.
    assert statuses == [401] * 9
    assert (locked[0], locked[2]) == (429, "30")
    assert elsewhere[0] == 200
