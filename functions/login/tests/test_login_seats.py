"""Device seats (protocol §4 session control): a login in a full seat displaces its holder."""

from __future__ import annotations

import asyncio

import pytest

from imfaas.events import catalog
from imfaas.shared.access_tokens import revocation_key


async def refresh_status(env, body) -> int:
    status, _ = await env.call(catalog.HTTP_TOKEN_REFRESH, {"refresh_token": body["refresh_token"]})
    return status


def kicks(env) -> list[dict]:
    return [
        e.get_data()
        for e in env.bus.of_type(catalog.SESSION_REVOKED)
        if e.get_data()["close_code"] == 4409
    ]


async def test_a_second_phone_displaces_the_first_with_a_kick(env):
    user_id = await env.register()
    first = await env.login(device_id="phone-1", platform="ios")
    second = await env.login(device_id="phone-2", platform="android")

    [kick] = kicks(env)
    assert kick == {
        "user": user_id,
        "device": "phone-1",
        "session": env.socket_of(first).session_id,
        "close_code": 4409,
        "reason": "signed in on another device",
    }
    assert [key for _, key in env.bus.published] == [user_id]
    assert await env.ports.cache.get(revocation_key(env.socket_of(first).session_id))
    assert await refresh_status(env, first) == 401
    assert await refresh_status(env, second) == 200


async def test_a_relogin_of_the_same_device_keeps_its_seat(env):
    await env.register()
    first = await env.login(device_id="phone", platform="ios")
    again = await env.login(device_id="phone", platform="ios")

    assert env.bus.published == []
    assert await refresh_status(env, first) == 200
    assert await refresh_status(env, again) == 200


async def test_one_mobile_and_one_desktop_and_any_web_by_default(env):
    await env.register()
    logins = [
        await env.login(device_id="phone", platform="ios"),
        await env.login(device_id="pc", platform="desktop"),
        *[await env.login(device_id=f"tab{i}", platform="web") for i in range(4)],
        await env.login(platform="web"),  # a device id made by the server
    ]

    assert env.bus.published == []
    for body in logins:
        assert await refresh_status(env, body) == 200


async def test_a_second_desktop_displaces_the_first(env):
    await env.register()
    await env.login(device_id="pc-1", platform="desktop")
    await env.login(device_id="phone", platform="ios")
    await env.login(device_id="pc-2", platform="desktop")

    assert [k["device"] for k in kicks(env)] == ["pc-1"]


async def test_after_logout_the_seat_is_free(env):
    await env.register()
    first = await env.login(device_id="phone-1", platform="ios")
    ext = {
        catalog.EXT_USER: first["user_id"],
        catalog.EXT_DEVICE: "phone-1",
        catalog.EXT_SESSION: env.socket_of(first).session_id,
    }
    assert (await env.call(catalog.HTTP_LOGOUT, {}, ext))[0] == 204

    await env.login(device_id="phone-2", platform="ios")

    assert kicks(env) == []


async def test_the_policy_is_configurable(make_login):
    env = await make_login(
        device_seats={"mobile": 2, "web": 1},
        platform_seats={"ios": "mobile", "android": "mobile", "web": "web"},
    )
    await env.register()
    await env.login(device_id="p1", platform="ios")
    await env.login(device_id="p2", platform="android")
    await env.login(device_id="pc-1", platform="desktop")  # desktop: no seats listed, any number
    await env.login(device_id="pc-2", platform="desktop")
    assert kicks(env) == []

    await env.login(device_id="p3", platform="ios")
    await env.login(device_id="w1", platform="web")
    await env.login(device_id="w2", platform="web")

    assert [k["device"] for k in kicks(env)] == ["p1", "w1"]


async def test_concurrent_logins_leave_one_holder(env):
    await env.register()

    bodies = await asyncio.gather(
        *(env.login(device_id=f"phone-{i}", platform="ios") for i in range(6))
    )

    statuses = [await refresh_status(env, body) for body in bodies]
    assert sorted(statuses) == [200] + [401] * 5
    kicked = sorted(k["device"] for k in kicks(env))
    winner = bodies[statuses.index(200)]["device_id"]
    assert kicked == sorted(f"phone-{i}" for i in range(6) if f"phone-{i}" != winner)


@pytest.mark.parametrize("platform", ["ios", "desktop"])
async def test_a_displaced_device_loses_its_push_token(env, platform):
    await env.register()
    first = await env.login(device_id="d1", platform=platform)
    ok = await env.frame(env.socket_of(first), push_frame("tok-1"))
    assert ok["type"] == "device.push_token.ok"

    await env.login(device_id="d2", platform=platform)

    assert await env.ports.devices.push_tokens(first["user_id"]) == []


def push_frame(token: str, provider: str = "fcm") -> dict:
    return {"type": "device.push_token", "id": "p1", "provider": provider, "token": token}
