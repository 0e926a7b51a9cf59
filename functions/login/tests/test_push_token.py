"""``device.push_token``: one token per device, validated, gone with the device's session."""

from __future__ import annotations

import pytest

from imfaas.events import catalog
from imfaas.functions.login.push_token_request import MAX_TOKEN_CHARS


def push_frame(**fields) -> dict:
    return {"type": "device.push_token", "id": "r1", **fields}


async def logged_in(env, device_id: str = "phone", platform: str = "ios"):
    if await env.ports.users.get_by_username("alice") is None:
        await env.register()
    body = await env.login(device_id=device_id, platform=platform)
    return body, env.socket_of(body)


async def test_a_push_token_is_stored_for_the_device(env):
    body, who = await logged_in(env)

    reply = await env.frame(who, push_frame(provider="apns", token="a" * 64))

    assert reply == {"type": "device.push_token.ok", "id": "r1"}
    [stored] = await env.ports.devices.push_tokens(body["user_id"])
    assert (stored.device_id, stored.provider, stored.token) == ("phone", "apns", "a" * 64)


async def test_a_new_token_replaces_the_device_previous_one(env):
    body, who = await logged_in(env)
    _, other = await logged_in(env, "laptop", "web")
    await env.frame(who, push_frame(provider="fcm", token="old"))
    await env.frame(other, push_frame(provider="fcm", token="laptop"))

    await env.frame(who, push_frame(provider="hms", token="new:token_x-1"))

    tokens = await env.ports.devices.push_tokens(body["user_id"])
    assert [(t.device_id, t.provider, t.token) for t in tokens] == [
        ("laptop", "fcm", "laptop"),
        ("phone", "hms", "new:token_x-1"),
    ]


@pytest.mark.parametrize(
    "fields",
    [
        {"token": "t"},
        {"provider": "gcm", "token": "t"},
        {"provider": None, "token": "t"},
        {"provider": ["fcm"], "token": "t"},
        {"provider": "fcm"},
        {"provider": "fcm", "token": ""},
        {"provider": "fcm", "token": 123},
        {"provider": "fcm", "token": "x" * (MAX_TOKEN_CHARS + 1)},
        {"provider": "fcm", "token": "has space"},
        {"provider": "fcm", "token": "line\nbreak"},
        {"provider": "fcm", "token": "ünïcode"},
    ],
)
async def test_bad_push_tokens_are_bad_request_and_store_nothing(env, fields):
    body, who = await logged_in(env)
    await env.frame(who, push_frame(provider="fcm", token="kept"))

    reply = await env.frame(who, push_frame(**fields))

    assert (reply["type"], reply["code"], reply["id"]) == ("error", "bad_request", "r1")
    [stored] = await env.ports.devices.push_tokens(body["user_id"])
    assert stored.token == "kept"


async def test_the_longest_token_is_accepted(env):
    _, who = await logged_in(env)

    reply = await env.frame(who, push_frame(provider="fcm", token="x" * MAX_TOKEN_CHARS))

    assert reply["type"] == "device.push_token.ok"


async def test_a_revoked_session_cannot_set_a_token(env):
    body, who = await logged_in(env)
    ext = {
        catalog.EXT_USER: who.user_id,
        catalog.EXT_DEVICE: who.device_id,
        catalog.EXT_SESSION: who.session_id,
    }
    await env.frame(who, push_frame(provider="fcm", token="before"))
    assert (await env.call(catalog.HTTP_LOGOUT, {}, ext))[0] == 204
    assert await env.ports.devices.push_tokens(body["user_id"]) == []

    reply = await env.frame(who, push_frame(provider="fcm", token="after"))

    assert (reply["type"], reply["code"]) == ("error", "unauthorized")
    assert await env.ports.devices.push_tokens(body["user_id"]) == []


async def test_a_frame_without_a_session_is_unauthorized(env):
    body, who = await logged_in(env)
    forged = type(who)(who.user_id, who.device_id, "", who.platform, who.node_id, who.conn_id)

    reply = await env.frame(forged, push_frame(provider="fcm", token="t"))

    assert (reply["type"], reply["code"]) == ("error", "unauthorized")
    assert await env.ports.devices.push_tokens(body["user_id"]) == []
