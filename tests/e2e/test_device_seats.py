"""Device seats and push tokens over real sockets (protocol §4: session control,
``device.push_token``): a login in a full seat kicks the device that held it."""

from __future__ import annotations

import asyncio

import pytest

from imfaas.client import ClientError, ImfaasClient


async def refresh_works(client: ImfaasClient, refresh_token: str) -> bool:
    try:
        await client.refresh(refresh_token)
    except ClientError as exc:
        assert (exc.status, exc.code) == (401, "unauthorized")
        return False
    return True


async def auth_works(client: ImfaasClient, access_token: str) -> bool:
    conn = await client.open_socket()
    reply = await conn.request_raw("auth", token=access_token)
    if reply["type"] == "auth.ok":
        await conn.close()
        return True
    assert reply["code"] == "unauthorized"
    assert await conn.wait_closed() == 4401
    return False


async def test_a_second_phone_kicks_the_first_with_4409(new_user, connect, client, password):
    name, _, first = await new_user(platform="ios", device_id="phone-1")
    old = await connect(first)

    second = await client.login(name, password, device_id="phone-2", platform="android")

    kicked = await old.next_event("kicked", timeout=10)
    assert isinstance(kicked["reason"], str) and kicked["reason"]
    assert await old.wait_closed(10) == 4409
    assert not await refresh_works(client, first.refresh_token)
    assert not await auth_works(client, first.access_token)
    new = await connect(second)
    assert (await new.request("ping"))["type"] == "pong"
    assert await refresh_works(client, second.refresh_token)


async def test_a_phone_that_never_connected_is_displaced_too(new_user, client, password):
    name, _, first = await new_user(platform="ios", device_id="phone-a")

    await client.login(name, password, device_id="phone-b", platform="ios")

    assert not await refresh_works(client, first.refresh_token)
    assert not await auth_works(client, first.access_token)


async def test_a_relogin_of_the_same_phone_keeps_its_seat(new_user, connect, client, password):
    name, _, first = await new_user(platform="ios", device_id="phone")
    conn = await connect(first)

    again = await client.login(name, password, device_id="phone", platform="ios")

    assert (await conn.request("ping"))["type"] == "pong"
    assert await refresh_works(client, again.refresh_token)
    assert await auth_works(client, first.access_token)


async def test_web_logins_never_displace(new_user, connect, client, password):
    name, _, first = await new_user(platform="web", device_id="tab-0")
    sessions = [first] + [
        await client.login(name, password, device_id=f"tab-{i}", platform="web") for i in (1, 2)
    ]
    sockets = [await connect(s) for s in sessions]
    # Other classes do not touch the web seats either.
    sessions.append(await client.login(name, password, device_id="phone", platform="ios"))
    sessions.append(await client.login(name, password, device_id="pc", platform="desktop"))

    for conn in sockets:
        assert (await conn.request("ping"))["type"] == "pong"
        assert conn.events.empty()
    for session in sessions:
        assert await refresh_works(client, session.refresh_token)


async def test_concurrent_logins_leave_one_seat_holder(new_user, client, password):
    name, _, _ = await new_user()  # a web login: holds no mobile seat

    sessions = await asyncio.gather(
        *(client.login(name, password, device_id=f"phone-{i}", platform="ios") for i in range(6))
    )

    live = [s for s in sessions if await refresh_works(client, s.refresh_token)]
    assert len(live) == 1
    for session in sessions:
        assert await auth_works(client, session.access_token) == (session in live)


async def test_push_token_is_accepted(new_user, connect) -> None:
    _, _, session = await new_user(platform="ios", device_id="phone")
    conn = await connect(session)

    for provider, token in [("apns", "a" * 64), ("fcm", "f" * 160 + ":APA91b"), ("hms", "h" * 130)]:
        reply = await conn.request("device.push_token", provider=provider, token=token)
        assert reply["type"] == "device.push_token.ok"


@pytest.mark.parametrize(
    "fields",
    [
        {"token": "t"},
        {"provider": "gcm", "token": "t"},
        {"provider": "fcm"},
        {"provider": "fcm", "token": ""},
        {"provider": "fcm", "token": 42},
        {"provider": "fcm", "token": "x" * 4097},
        {"provider": "fcm", "token": "two words"},
    ],
)
async def test_bad_push_tokens_are_bad_request(new_user, connect, fields) -> None:
    _, _, session = await new_user()
    conn = await connect(session)

    reply = await conn.request_raw("device.push_token", **fields)

    assert (reply["type"], reply["code"]) == ("error", "bad_request")
    assert (await conn.request("ping"))["type"] == "pong"  # the socket stays open
