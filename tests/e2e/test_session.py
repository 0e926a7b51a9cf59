"""Protocol §2 over a real WebSocket: auth, limits, malformed frames, timeouts."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import aiohttp
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from imfaas.client import ImfaasClient
from imfaas.shared.access_tokens import TokenIssuer


def signer(server, ttl_s: int = 900, key_pem: bytes | None = None) -> TokenIssuer:
    """A token issuer with the server's dev key (or another key under the same kid)."""
    pem = key_pem or (server.data_dir / "keys" / "k1.private.pem").read_bytes()
    return TokenIssuer(pem, "k1", "imfaas", ttl_s)


async def test_auth_ok_then_ping(new_user, client: ImfaasClient) -> None:
    _, user_id, session = await new_user()
    conn = await client.open_socket()
    reply = await conn.request("auth", id="a-1", token=session.access_token)
    assert reply == {
        "type": "auth.ok",
        "id": "a-1",
        "user_id": user_id,
        "device_id": session.device_id,
    }
    assert await conn.request("ping", id="p-1") == {"type": "pong", "id": "p-1"}


@pytest.mark.parametrize("token", ["", "garbage", "a.b.c", None, 7])
async def test_bad_tokens_get_unauthorized_and_4401(client: ImfaasClient, token: object) -> None:
    conn = await client.open_socket()
    reply = await conn.request_raw("auth", id="a", token=token)
    assert (reply["type"], reply["code"], reply["id"]) == ("error", "unauthorized", "a")
    assert await conn.wait_closed() == 4401


async def test_forged_token_is_refused(server, new_user, client: ImfaasClient) -> None:
    _, user_id, session = await new_user()
    other_key = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    forged = signer(server, key_pem=other_key).issue(user_id, session.device_id, "sid", "web")
    conn = await client.open_socket()
    reply = await conn.request_raw("auth", token=forged)
    assert reply["code"] == "unauthorized"
    assert await conn.wait_closed() == 4401


async def test_expired_token_is_refused(server, new_user, client: ImfaasClient) -> None:
    _, user_id, session = await new_user()
    expired = signer(server, ttl_s=-60).issue(user_id, session.device_id, "sid", "web")
    conn = await client.open_socket()
    reply = await conn.request_raw("auth", token=expired)
    assert reply["code"] == "unauthorized"
    assert "expired" in reply["message"]
    assert await conn.wait_closed() == 4401


async def test_revoked_token_is_refused(new_user, client: ImfaasClient) -> None:
    _, _, session = await new_user()
    await client.logout(session.access_token)
    conn = await client.open_socket()
    reply = await conn.request_raw("auth", token=session.access_token)
    assert reply["code"] == "unauthorized"
    assert await conn.wait_closed() == 4401


@pytest.mark.parametrize(
    "text",
    [
        '{"type": "ping", "id": "p"}',
        '{"type": "msg.send", "id": "m", "to": "x"}',
        "not json",
        "[]",
    ],
)
async def test_any_frame_before_auth_closes_4401(client: ImfaasClient, text: str) -> None:
    conn = await client.open_socket()
    await conn.send_text(text)
    assert await conn.wait_closed() == 4401


@pytest.mark.parametrize(
    ("text", "expected_id"),
    [
        ("{oops", None),
        ("[1, 2, 3]", None),
        ('"just a string"', None),
        ("42", None),
        ('{"type": "ping"}', None),
        ('{"id": "no-type"}', "no-type"),
        ('{"type": "no.such.type", "id": "u1"}', "u1"),
        ('{"type": "ping", "id": 5}', None),
        ('{"type": "auth", "id": "again", "token": "x"}', "again"),
    ],
)
async def test_bad_frames_get_bad_request_and_the_socket_stays_open(
    new_user, connect, text: str, expected_id: str | None
) -> None:
    _, _, session = await new_user()
    conn = await connect(session)
    await conn.send_text(text)
    if expected_id is None:
        frame = await conn.next_event("error")
        assert "id" not in frame
    else:
        frame = await conn.next_unmatched()
        assert frame["id"] == expected_id
    assert (frame["type"], frame["code"]) == ("error", "bad_request")
    assert (await conn.request("ping"))["type"] == "pong"


async def test_binary_frames_are_refused_but_not_fatal(new_user, connect) -> None:
    _, _, session = await new_user()
    conn = await connect(session)
    await conn.ws.send_bytes(b'{"type":"ping","id":"b"}')
    frame = await conn.next_event("error")
    assert frame["code"] == "bad_request"
    assert (await conn.request("ping"))["type"] == "pong"


async def test_oversize_frame_closes_1009(new_user, connect) -> None:
    _, _, session = await new_user()
    conn = await connect(session)
    big = json.dumps({"type": "ping", "id": "big", "pad": "x" * (65 * 1024)})
    await conn.send_text(big)
    assert await conn.wait_closed() == 1009


async def test_frame_just_under_the_limit_is_accepted(new_user, connect) -> None:
    _, _, session = await new_user()
    conn = await connect(session)
    frame = {"type": "ping", "id": "edge", "pad": ""}
    frame["pad"] = "x" * (64 * 1024 - len(json.dumps(frame)) - 10)
    await conn.send_text(json.dumps(frame))
    assert (await conn.next_unmatched())["type"] == "pong"


async def test_frames_sent_right_after_auth_are_answered_in_order(
    new_user, client: ImfaasClient
) -> None:
    _, _, session = await new_user()
    conn = await client.open_socket()
    await conn.send_frame({"type": "auth", "id": "a", "token": session.access_token})
    for i in range(5):
        await conn.send_frame({"type": "ping", "id": f"p{i}"})
    first = await conn.next_unmatched()
    assert first["type"] == "auth.ok"
    ids = [(await conn.next_unmatched())["id"] for _ in range(5)]
    assert ids == [f"p{i}" for i in range(5)]


# -- timeouts, on a server of their own with short limits ------------------------------


@pytest.fixture(scope="module")
def quick_server(dev_server_factory):
    return dev_server_factory({"IMFAAS_AUTH_TIMEOUT_S": "0.6", "IMFAAS_IDLE_TIMEOUT_S": "1.0"})


@pytest.fixture
async def quick_client(quick_server) -> AsyncIterator[ImfaasClient]:
    async with ImfaasClient(quick_server.url) as c:
        yield c


async def test_auth_timeout_closes_4401(quick_client: ImfaasClient) -> None:
    conn = await quick_client.open_socket()
    error = await conn.next_event("error", timeout=5)
    assert error["code"] == "unauthorized"
    assert await conn.wait_closed() == 4401


async def test_idle_socket_closes_4408(quick_client: ImfaasClient, password: str) -> None:
    await quick_client.register("idler", password)
    session = await quick_client.login("idler", password)
    conn = await quick_client.connect(session)
    assert await conn.wait_closed(timeout=5) == 4408


async def test_application_pings_keep_a_socket_alive(
    quick_client: ImfaasClient, password: str
) -> None:
    await quick_client.register("pinger", password)
    session = await quick_client.login("pinger", password)
    conn = await quick_client.connect(session)
    for _ in range(6):
        await asyncio.sleep(0.4)
        assert (await conn.request("ping"))["type"] == "pong"
    assert conn.close_code is None


async def test_websocket_pings_keep_a_socket_alive(quick_server, password: str) -> None:
    async with ImfaasClient(quick_server.url) as c:
        await c.register("wsping", password)
        session = await c.login("wsping", password)
        async with aiohttp.ClientSession() as http:
            ws = await http.ws_connect(quick_server.url + "/v1/ws", heartbeat=0.3)
            await ws.send_json({"type": "auth", "id": "a", "token": session.access_token})
            assert (await ws.receive_json())["type"] == "auth.ok"
            await asyncio.sleep(2.0)
            assert not ws.closed
            await ws.send_json({"type": "ping", "id": "p"})
            assert (await ws.receive_json(timeout=5))["type"] == "pong"
            await ws.close()
