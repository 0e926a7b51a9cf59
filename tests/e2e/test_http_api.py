"""Protocol §1 over real HTTP against ``imfaas dev``."""

from __future__ import annotations

import itertools
import os

import pytest

from imfaas.client import ClientError, ImfaasClient

_seq = itertools.count(1)


def fresh_name() -> str:
    return f"http{os.getpid()}n{next(_seq)}"


async def test_healthz(client: ImfaasClient) -> None:
    async with client._http.get(client.base_url + "/healthz") as response:
        assert response.status == 200
        assert (await response.json())["status"] == "ok"


async def test_register_then_login_returns_every_field(client: ImfaasClient, password: str) -> None:
    name = fresh_name()
    status, body = await client.call("/v1/register", {"username": name, "password": password})
    assert status == 201
    user_id = body["user_id"]
    assert ":" not in user_id
    session = await client.login(name, password, device_id="phone-1", platform="ios")
    assert session.user_id == user_id
    assert session.device_id == "phone-1"
    assert session.expires_in > 0
    assert session.ws_url.startswith("ws://") and session.ws_url.endswith("/v1/ws")


async def test_login_without_device_id_gets_a_server_made_one(
    client: ImfaasClient, password: str
) -> None:
    name = fresh_name()
    await client.register(name, password)
    first = await client.login(name, password)
    second = await client.login(name, password)
    assert first.device_id and second.device_id and first.device_id != second.device_id


@pytest.mark.parametrize(
    "body",
    [
        {"username": "ab", "password": "password-ok"},
        {"username": "UPPER", "password": "password-ok"},
        {"username": "x" * 33, "password": "password-ok"},
        {"username": "has space", "password": "password-ok"},
        {"username": "okname", "password": "short"},
        {"username": "okname", "password": "p" * 129},
        {"username": 42, "password": "password-ok"},
        {"password": "password-ok"},
    ],
)
async def test_register_rejects_bad_input(client: ImfaasClient, body: dict) -> None:
    status, payload = await client.call("/v1/register", body)
    assert status == 400
    assert payload["error"]["code"] == "bad_request"
    assert payload["error"]["message"]


async def test_register_taken_username_is_conflict(client: ImfaasClient, password: str) -> None:
    name = fresh_name()
    await client.register(name, password)
    status, payload = await client.call("/v1/register", {"username": name, "password": password})
    assert (status, payload["error"]["code"]) == (409, "conflict")


@pytest.mark.parametrize(
    "raw",
    [b"{not json", b"[1, 2]", b'"string"', b"null", b"", b"[" * 60000, b'{"a":' * 12000],
    ids=lambda raw: repr(raw[:12]),
)
async def test_http_bodies_that_are_not_objects(client: ImfaasClient, raw: bytes) -> None:
    status, payload = await client.call("/v1/login", raw=raw)
    assert status == 400
    assert payload["error"]["code"] == "bad_request"


async def test_oversize_body_is_too_large(client: ImfaasClient) -> None:
    status, payload = await client.call(
        "/v1/register", {"username": "big", "password": "x" * (70 * 1024)}
    )
    assert status == 413
    assert payload["error"]["code"] == "too_large"


async def test_wrong_password_and_unknown_user_look_the_same(
    client: ImfaasClient, password: str
) -> None:
    name = fresh_name()
    await client.register(name, password)
    wrong = await client.call("/v1/login", {"username": name, "password": "not-the-password"})
    unknown = await client.call("/v1/login", {"username": fresh_name(), "password": password})
    assert wrong[0] == unknown[0] == 401
    assert wrong[1] == unknown[1]
    assert wrong[1]["error"]["code"] == "unauthorized"


async def test_login_rejects_bad_platform_and_device_id(
    client: ImfaasClient, password: str
) -> None:
    name = fresh_name()
    await client.register(name, password)
    status, payload = await client.call(
        "/v1/login", {"username": name, "password": password, "platform": "toaster"}
    )
    assert (status, payload["error"]["code"]) == (400, "bad_request")
    status, payload = await client.call(
        "/v1/login", {"username": name, "password": password, "device_id": "a:b"}
    )
    assert (status, payload["error"]["code"]) == (400, "bad_request")


async def test_refresh_rotates_and_reuse_revokes_the_session(
    client: ImfaasClient, password: str
) -> None:
    name = fresh_name()
    await client.register(name, password)
    first = await client.login(name, password)
    second = await client.refresh(first.refresh_token)
    assert second.refresh_token != first.refresh_token
    assert second.user_id == first.user_id and second.device_id == first.device_id
    # The spent token is refused, and its reuse revokes the whole family.
    with pytest.raises(ClientError) as reused:
        await client.refresh(first.refresh_token)
    assert reused.value.status == 401
    with pytest.raises(ClientError) as after:
        await client.refresh(second.refresh_token)
    assert after.value.status == 401
    # The access token of the revoked session no longer opens a socket.
    conn = await client.open_socket()
    reply = await conn.request_raw("auth", token=second.access_token)
    assert reply["code"] == "unauthorized"
    assert await conn.wait_closed() == 4401


@pytest.mark.parametrize("token", ["", "no-dot", ".", "abc.", "x" * 300, 12])
async def test_refresh_with_malformed_tokens(client: ImfaasClient, token: object) -> None:
    status, payload = await client.call("/v1/token/refresh", {"refresh_token": token})
    assert (status, payload["error"]["code"]) == (401, "unauthorized")


async def test_logout_revokes_tokens_and_closes_sockets(
    client: ImfaasClient, password: str
) -> None:
    name = fresh_name()
    await client.register(name, password)
    session = await client.login(name, password, device_id="laptop")
    other = await client.login(name, password, device_id="phone")
    conn = await client.connect(session)
    kept = await client.connect(other)
    status, body = await client.call("/v1/logout", token=session.access_token)
    assert (status, body) == (204, None)
    assert await conn.wait_closed() == 4401
    # The same access token cannot log out again or open a socket; the refresh token is dead.
    status, payload = await client.call("/v1/logout", token=session.access_token)
    assert (status, payload["error"]["code"]) == (401, "unauthorized")
    with pytest.raises(ClientError):
        await client.refresh(session.refresh_token)
    # The other device is untouched.
    assert (await kept.request("ping"))["type"] == "pong"


@pytest.mark.parametrize(
    "header", [None, "Bearer", "Bearer garbage", "Basic dXNlcjpwYXNz", "Bearer a.b.c"]
)
async def test_logout_needs_a_valid_bearer_token(client: ImfaasClient, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    async with client._http.post(client.base_url + "/v1/logout", headers=headers) as response:
        assert response.status == 401
        assert (await response.json())["error"]["code"] == "unauthorized"
