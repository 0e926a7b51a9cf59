"""Refresh-token rotation, reuse detection and logout (protocol §1, §2, §5)."""

from __future__ import annotations

import pytest

from imfaas.events import catalog
from imfaas.shared.access_tokens import TokenVerifier, revocation_key
from imfaas.shared.errors import BackendUnavailable


def claims_of(env, body):
    return TokenVerifier.from_dir(env.settings.data_dir / "keys", "imfaas").verify(
        body["access_token"]
    )


async def refresh(env, token):
    return await env.call(catalog.HTTP_TOKEN_REFRESH, {"refresh_token": token})


def logout_extensions(env, body) -> dict[str, str]:
    claims = claims_of(env, body)
    return {
        catalog.EXT_USER: claims.user_id,
        catalog.EXT_DEVICE: claims.device_id,
        catalog.EXT_SESSION: claims.session_id,
    }


class FailingCache:
    """A cache whose server cannot be reached."""

    async def get(self, key):
        raise BackendUnavailable("redis at 10.0.0.7:6379 refused the connection")

    async def set(self, key, value, ttl_s):
        raise BackendUnavailable("redis at 10.0.0.7:6379 refused the connection")

    async def delete(self, key):
        raise BackendUnavailable("redis at 10.0.0.7:6379 refused the connection")

    async def incr(self, key, ttl_s):
        raise BackendUnavailable("redis at 10.0.0.7:6379 refused the connection")


# -- refresh ----------------------------------------------------------------------------


async def test_refresh_rotates_and_spends_the_old_token(env):
    user_id = await env.register()
    first = await env.login(device_id="d1", platform="android")
    status, second = await refresh(env, first["refresh_token"])
    assert status == 200
    assert set(second) == set(first)
    assert second["refresh_token"] != first["refresh_token"]
    assert (second["user_id"], second["device_id"]) == (user_id, "d1")
    claims = claims_of(env, second)
    assert (claims.user_id, claims.device_id, claims.platform) == (user_id, "d1", "android")
    # Same login session, new secret.
    assert claims.session_id == claims_of(env, first).session_id
    # The new token works once more.
    status, third = await refresh(env, second["refresh_token"])
    assert status == 200
    assert third["refresh_token"] not in (first["refresh_token"], second["refresh_token"])


async def test_spent_refresh_token_is_unauthorized(env):
    await env.register()
    first = await env.login()
    status, _ = await refresh(env, first["refresh_token"])
    assert status == 200
    status, body = await refresh(env, first["refresh_token"])
    assert status == 401
    assert body["error"]["code"] == "unauthorized"


async def test_reused_refresh_token_revokes_the_whole_family(env):
    user_id = await env.register()
    first = await env.login(device_id="d1")
    session_id = claims_of(env, first).session_id
    status, second = await refresh(env, first["refresh_token"])
    assert status == 200
    assert env.bus.published == []
    assert await env.ports.cache.get(revocation_key(session_id)) is None

    status, body = await refresh(env, first["refresh_token"])  # stolen copy replayed
    assert (status, body["error"]["code"]) == (401, "unauthorized")
    # The newest token dies with the family.
    status, body = await refresh(env, second["refresh_token"])
    assert (status, body["error"]["code"]) == (401, "unauthorized")

    revoked = env.bus.of_type(catalog.SESSION_REVOKED)
    assert len(revoked) == 1
    data = revoked[0].get_data()
    assert data["user"] == user_id
    assert data["device"] == "d1"
    assert data["session"] == session_id
    assert data["close_code"] == 4401
    assert [key for _, key in env.bus.published] == [user_id]
    assert await env.ports.cache.get(revocation_key(session_id)) is not None
    assert not await env.ports.devices.is_session_live(session_id, 0)


async def test_reuse_in_one_family_leaves_other_sessions_alone(env):
    await env.register()
    victim = await env.login(device_id="d1")
    other = await env.login(device_id="d2")
    assert (await refresh(env, victim["refresh_token"]))[0] == 200
    await refresh(env, victim["refresh_token"])  # reuse
    status, _ = await refresh(env, other["refresh_token"])
    assert status == 200
    other_session = claims_of(env, other).session_id
    assert await env.ports.cache.get(revocation_key(other_session)) is None


@pytest.mark.parametrize(
    "token",
    [None, 123, "", "nodot", ".secret", "session.", "x" * 120 + "." + "y" * 140, "nosuch.secret"],
    ids=["null", "int", "empty", "no-dot", "no-session", "no-secret", "too-long", "unknown"],
)
async def test_malformed_or_unknown_refresh_token_is_unauthorized(env, token):
    await env.register()
    await env.login()
    status, body = await refresh(env, token)
    assert status == 401
    assert body["error"]["code"] == "unauthorized"
    assert env.bus.published == []


async def test_refresh_without_a_token_is_unauthorized(env):
    status, body = await env.call(catalog.HTTP_TOKEN_REFRESH, {})
    assert (status, body["error"]["code"]) == (401, "unauthorized")


async def test_refresh_with_a_wrong_secret_for_a_live_session_is_unauthorized(env):
    await env.register()
    body = await env.login()
    session_id = claims_of(env, body).session_id
    status, reply = await refresh(env, f"{session_id}.not-the-secret")
    assert (status, reply["error"]["code"]) == (401, "unauthorized")


async def test_expired_refresh_token_is_unauthorized(make_login):
    env = await make_login(refresh_token_ttl_s=0)
    await env.register()
    body = await env.login()
    status, reply = await refresh(env, body["refresh_token"])
    assert (status, reply["error"]["code"]) == (401, "unauthorized")


# -- logout -----------------------------------------------------------------------------


async def test_logout_revokes_the_device_and_closes_its_sockets(env):
    user_id = await env.register()
    body = await env.login(device_id="d1")
    ext = logout_extensions(env, body)
    status, reply = await env.call(catalog.HTTP_LOGOUT, {}, ext)
    assert status == 204
    assert reply is None
    revoked = env.bus.of_type(catalog.SESSION_REVOKED)
    assert len(revoked) == 1
    data = revoked[0].get_data()
    assert data["user"] == user_id
    assert data["device"] == "d1"
    assert data["session"] == ext[catalog.EXT_SESSION]
    assert data["close_code"] == 4401
    assert [key for _, key in env.bus.published] == [user_id]
    assert await env.ports.cache.get(revocation_key(ext[catalog.EXT_SESSION])) is not None
    status, reply = await refresh(env, body["refresh_token"])
    assert (status, reply["error"]["code"]) == (401, "unauthorized")


async def test_logout_revokes_every_session_of_the_device_only(env):
    await env.register()
    old = await env.login(device_id="d1")
    current = await env.login(device_id="d1")
    other_device = await env.login(device_id="d2")
    status, _ = await env.call(catalog.HTTP_LOGOUT, {}, logout_extensions(env, current))
    assert status == 204
    sessions = {e.get_data()["session"] for e in env.bus.of_type(catalog.SESSION_REVOKED)}
    assert sessions == {claims_of(env, old).session_id, claims_of(env, current).session_id}
    for body in (old, current):
        assert (await refresh(env, body["refresh_token"]))[0] == 401
        assert await env.ports.cache.get(revocation_key(claims_of(env, body).session_id))
    assert (await refresh(env, other_device["refresh_token"]))[0] == 200
    other_session = claims_of(env, other_device).session_id
    assert await env.ports.cache.get(revocation_key(other_session)) is None


async def test_login_again_after_logout_works(env):
    await env.register()
    body = await env.login(device_id="d1")
    await env.call(catalog.HTTP_LOGOUT, {}, logout_extensions(env, body))
    again = await env.login(device_id="d1")
    assert (await refresh(env, again["refresh_token"]))[0] == 200


@pytest.mark.parametrize(
    "extensions",
    [None, {catalog.EXT_USER: "u1"}, {catalog.EXT_DEVICE: "d1"}],
    ids=["none", "user-only", "device-only"],
)
async def test_logout_without_a_verified_identity_is_unauthorized(env, extensions):
    status, body = await env.call(catalog.HTTP_LOGOUT, {}, extensions)
    assert (status, body["error"]["code"]) == (401, "unauthorized")
    assert env.bus.published == []


async def test_logout_with_the_cache_unavailable_is_503_without_details(env):
    await env.register()
    body = await env.login(device_id="d1")
    env.ports.cache_ = FailingCache()
    status, reply = await env.call(catalog.HTTP_LOGOUT, {}, logout_extensions(env, body))
    assert status == 503
    assert reply["error"]["code"] == "unavailable"
    message = reply["error"]["message"]
    assert message
    assert "Traceback" not in message
    assert "10.0.0.7" not in message and "redis" not in message
