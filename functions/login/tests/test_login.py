"""Register and login (protocol §1)."""

from __future__ import annotations

import pytest

from imfaas.events import catalog
from imfaas.shared.access_tokens import TokenVerifier


def verifier(env) -> TokenVerifier:
    return TokenVerifier.from_dir(env.settings.data_dir / "keys", "imfaas")


# -- register ---------------------------------------------------------------------------


async def test_register_returns_201_and_a_user_id(env):
    status, body = await env.call(
        catalog.HTTP_REGISTER, {"username": "alice", "password": "correct-horse"}
    )
    assert status == 201
    assert set(body) == {"user_id"}
    user_id = body["user_id"]
    assert isinstance(user_id, str) and user_id and ":" not in user_id
    stored = await env.ports.users.get_by_username("alice")
    assert stored is not None and stored.user_id == user_id
    # Only a hash is kept, never the password.
    assert "correct-horse" not in stored.password_hash
    assert stored.password_hash.startswith("$argon2id$")


async def test_register_gives_each_user_its_own_id(env):
    first = await env.register("alice")
    second = await env.register("bob")
    assert first != second


@pytest.mark.parametrize(
    "username",
    ["abc", "a" * 32, "a_b.c-9", "0.0"],
    ids=["3-chars", "32-chars", "all-allowed-chars", "digits-and-dot"],
)
async def test_register_accepts_usernames_at_the_limits(env, username):
    status, body = await env.call(
        catalog.HTTP_REGISTER, {"username": username, "password": "correct-horse"}
    )
    assert status == 201, body


@pytest.mark.parametrize(
    "username",
    ["ab", "Alice", "a" * 33, "al ice", "al:ice", "", 123, None],
    ids=["too-short", "uppercase", "33-chars", "space", "colon", "empty", "int", "null"],
)
async def test_register_rejects_bad_usernames(env, username):
    status, body = await env.call(
        catalog.HTTP_REGISTER, {"username": username, "password": "correct-horse"}
    )
    assert status == 400
    assert body["error"]["code"] == "bad_request"
    assert body["error"]["message"]


async def test_register_without_username_is_bad_request(env):
    status, body = await env.call(catalog.HTTP_REGISTER, {"password": "correct-horse"})
    assert (status, body["error"]["code"]) == (400, "bad_request")


@pytest.mark.parametrize("password", ["p" * 8, "p" * 128, "é" * 8], ids=["8", "128", "unicode-8"])
async def test_register_accepts_passwords_at_the_limits(env, password):
    status, body = await env.call(
        catalog.HTTP_REGISTER, {"username": "alice", "password": password}
    )
    assert status == 201, body
    await env.login("alice", password)


@pytest.mark.parametrize(
    "password", ["p" * 7, "p" * 129, "", 12345678, None], ids=["7", "129", "empty", "int", "null"]
)
async def test_register_rejects_bad_passwords(env, password):
    status, body = await env.call(
        catalog.HTTP_REGISTER, {"username": "alice", "password": password}
    )
    assert status == 400
    assert body["error"]["code"] == "bad_request"
    assert await env.ports.users.get_by_username("alice") is None


async def test_register_duplicate_username_is_conflict(env):
    first = await env.register("alice", "first-password")
    status, body = await env.call(
        catalog.HTTP_REGISTER, {"username": "alice", "password": "second-password"}
    )
    assert status == 409
    assert body["error"]["code"] == "conflict"
    # The first account is untouched: its password still works, the second does not.
    assert (await env.login("alice", "first-password"))["user_id"] == first
    status, _ = await env.call(
        catalog.HTTP_LOGIN, {"username": "alice", "password": "second-password"}
    )
    assert status == 401


@pytest.mark.parametrize("event_type", catalog.HTTP_TYPES)
@pytest.mark.parametrize("body", [["alice"], "alice", 7, None], ids=["list", "str", "int", "null"])
async def test_body_that_is_not_an_object_is_bad_request(env, event_type, body):
    status, reply = await env.call(event_type, body)
    assert status == 400
    assert reply["error"]["code"] == "bad_request"


# -- login ------------------------------------------------------------------------------


async def test_login_returns_every_field_of_the_protocol(env):
    user_id = await env.register()
    status, body = await env.call(
        catalog.HTTP_LOGIN,
        {"username": "alice", "password": "correct-horse", "device_id": "phone-1"},
        {catalog.EXT_WS_URL: "ws://gw.example/v1/ws"},
    )
    assert status == 200
    assert set(body) == {
        "access_token",
        "refresh_token",
        "expires_in",
        "user_id",
        "device_id",
        "ws_url",
    }
    assert body["user_id"] == user_id
    assert body["device_id"] == "phone-1"
    assert body["expires_in"] == env.settings.access_token_ttl_s
    assert body["ws_url"] == "ws://gw.example/v1/ws"
    claims = verifier(env).verify(body["access_token"])
    assert claims.user_id == user_id
    assert claims.device_id == "phone-1"
    assert claims.platform == "web"
    # The refresh token names the same login session as the access token.
    session_id, _, secret = body["refresh_token"].partition(".")
    assert session_id == claims.session_id and secret
    assert await env.ports.devices.is_session_live(session_id, 0)


async def test_login_prefers_the_configured_public_ws_url(make_login):
    env = await make_login(public_ws_url="wss://chat.example/v1/ws")
    await env.register()
    status, body = await env.call(
        catalog.HTTP_LOGIN,
        {"username": "alice", "password": "correct-horse"},
        {catalog.EXT_WS_URL: "ws://internal:8080/v1/ws"},
    )
    assert status == 200
    assert body["ws_url"] == "wss://chat.example/v1/ws"


async def test_access_token_does_not_verify_with_another_issuer(env):
    await env.register()
    body = await env.login()
    wrong = TokenVerifier.from_dir(env.settings.data_dir / "keys", "someone-else")
    with pytest.raises(Exception, match="invalid token"):
        wrong.verify(body["access_token"])


@pytest.mark.parametrize("platform", ["ios", "android", "web", "desktop"])
async def test_login_platform_is_carried_in_the_token(env, platform):
    await env.register()
    body = await env.login(platform=platform)
    assert verifier(env).verify(body["access_token"]).platform == platform


@pytest.mark.parametrize("platform", ["linux", "", "IOS", None, 3])
async def test_login_with_a_bad_platform_is_bad_request(env, platform):
    await env.register()
    status, body = await env.call(
        catalog.HTTP_LOGIN,
        {"username": "alice", "password": "correct-horse", "platform": platform},
    )
    assert status == 400
    assert body["error"]["code"] == "bad_request"


async def test_wrong_password_and_unknown_user_get_the_same_401(env):
    await env.register()
    wrong_status, wrong = await env.call(
        catalog.HTTP_LOGIN, {"username": "alice", "password": "wrong-password"}
    )
    unknown_status, unknown = await env.call(
        catalog.HTTP_LOGIN, {"username": "nobody", "password": "correct-horse"}
    )
    assert wrong_status == unknown_status == 401
    assert wrong["error"]["code"] == unknown["error"]["code"] == "unauthorized"
    assert wrong["error"]["message"] == unknown["error"]["message"]
    assert "access_token" not in wrong and "access_token" not in unknown


async def test_login_with_a_malformed_password_is_bad_request(env):
    await env.register()
    status, body = await env.call(catalog.HTTP_LOGIN, {"username": "alice", "password": "short"})
    assert (status, body["error"]["code"]) == (400, "bad_request")


async def test_given_device_id_is_kept(env):
    await env.register()
    body = await env.login(device_id="my-laptop")
    assert body["device_id"] == "my-laptop"
    assert verifier(env).verify(body["access_token"]).device_id == "my-laptop"


async def test_absent_device_id_is_made_by_the_server(env):
    await env.register()
    first = await env.login()
    second = await env.login()
    for body in (first, second):
        device_id = body["device_id"]
        assert isinstance(device_id, str) and device_id and ":" not in device_id
        assert verifier(env).verify(body["access_token"]).device_id == device_id
    assert first["device_id"] != second["device_id"]


@pytest.mark.parametrize(
    "device_id", ["", "a:b", "d" * 65, 42, " pad"], ids=["empty", "colon", "65", "int", "space"]
)
async def test_login_with_a_bad_device_id_is_bad_request(env, device_id):
    await env.register()
    status, body = await env.call(
        catalog.HTTP_LOGIN,
        {"username": "alice", "password": "correct-horse", "device_id": device_id},
    )
    assert (status, body["error"]["code"]) == (400, "bad_request")


async def test_each_login_opens_its_own_session(env):
    await env.register()
    first = await env.login(device_id="d1")
    second = await env.login(device_id="d1")
    v = verifier(env)
    assert v.verify(first["access_token"]).session_id != v.verify(second["access_token"]).session_id
    assert first["refresh_token"] != second["refresh_token"]
