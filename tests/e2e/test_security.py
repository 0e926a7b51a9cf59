"""Abuse over real sockets: replayed frames, per-type rate limits, connection caps, the
internal delivery credential. Generic: runs on ``imfaas dev`` and on the local cluster."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
from collections.abc import AsyncIterator

import aiohttp
import pytest

from imfaas.client import Connection, ImfaasClient, LoginSession
from imfaas.events import catalog
from imfaas.events.codec import encode_http, new_event
from imfaas.shared.conversation_id import direct_conversation

_names = itertools.count(1)
INTERNAL_TOKEN = "e2e-internal-token-0123456789abcdef"


def text(value: str) -> dict:
    return {"kind": "text", "text": value}


async def sign_up(client: ImfaasClient, password: str) -> tuple[str, str, LoginSession]:
    """A fresh user: (username, user id, first login)."""
    name = f"sec{os.getpid()}x{next(_names)}"
    user_id = await client.register(name, password)
    return name, user_id, await client.login(name, password)


async def messages_of(conn: Connection, conversation: str) -> list[dict]:
    page = await conn.request("msg.history", conversation=conversation)
    return page["messages"]


# -- replay ---------------------------------------------------------------------------------


@pytest.mark.parametrize("address", ["to", "conversation"])
async def test_a_send_captured_from_a_is_never_a_message_from_a_on_bs_socket(
    new_user, connect, address: str
) -> None:
    _, alice, alice_session = await new_user()
    _, bob, bob_session = await new_user()
    _, carol, carol_session = await new_user()
    a, b, c = [await connect(s) for s in (alice_session, bob_session, carol_session)]
    target = (
        {"to": carol} if address == "to" else {"conversation": direct_conversation(alice, carol)}
    )
    captured = {
        "type": "msg.send",
        "id": "captured-1",
        **target,
        "client_msg_id": "alice-1",
        "content": text("from alice"),
    }
    await a.send_frame(captured)
    original = await a.next_unmatched()
    assert original["type"] == "msg.ack"
    assert (await c.next_event("msg.new"))["message"]["sender"] == alice

    # Bob replays it, claiming to be Alice in every field a server might trust.
    forged = {**captured, "sender": alice, "user_id": alice, "from": alice}
    forged["sender_device"] = alice_session.device_id
    await b.send_frame(forged)
    reply = await b.next_unmatched()

    assert reply["id"] == "captured-1"
    assert reply != original
    if reply["type"] == "msg.ack":
        assert reply["msg_id"] != original["msg_id"]
        assert reply["conversation"] == direct_conversation(bob, carol)
        delivered = (await c.next_event("msg.new"))["message"]
        assert (delivered["sender"], delivered["msg_id"]) == (bob, reply["msg_id"])
    else:
        assert reply["type"] == "error"
    # Alice's conversation with Carol still holds her one message, and only hers.
    history = await messages_of(c, direct_conversation(alice, carol))
    assert [(m["sender"], m["msg_id"]) for m in history] == [(alice, original["msg_id"])]
    # Nothing anywhere is attributed to Alice but that message.
    synced = await c.request("sync", cursors={})
    from_alice = [m for m in synced["messages"] if m["sender"] == alice]
    assert [m["msg_id"] for m in from_alice] == [original["msg_id"]]


async def test_a_captured_auth_frame_is_refused_after_logout(new_user, client) -> None:
    _, _, session = await new_user()
    captured = {"type": "auth", "id": "a-1", "token": session.access_token}
    conn = await client.open_socket()
    await conn.send_frame(captured)
    assert (await conn.next_unmatched())["type"] == "auth.ok"
    await client.logout(session.access_token)
    assert await conn.wait_closed() == 4401

    replay = await client.open_socket()
    await replay.send_frame(captured)
    reply = await replay.next_unmatched()
    assert (reply["type"], reply["code"], reply["id"]) == ("error", "unauthorized", "a-1")
    assert await replay.wait_closed() == 4401


async def test_an_auth_frame_replayed_on_an_open_socket_changes_nothing(new_user, connect) -> None:
    _, _, alice_session = await new_user()
    _, bob, bob_session = await new_user()
    _, carol, _ = await new_user()
    b = await connect(bob_session)
    reply = await b.request_raw("auth", id="again", token=alice_session.access_token)
    assert (reply["type"], reply["code"]) == ("error", "bad_request")
    # The socket is still Bob's.
    ack = await b.request("msg.send", to=carol, client_msg_id="b-1", content=text("hi"))
    assert ack["conversation"] == direct_conversation(bob, carol)


# -- per-type rate limits, on a server with small ones ---------------------------------------


@pytest.fixture(scope="module")
def strict_server(dev_server_factory):
    return dev_server_factory(
        {
            "IMFAAS_FRAME_RATES": "msg.send=0.01/3,typing=2/5",
            "IMFAAS_INTERNAL_TOKEN": INTERNAL_TOKEN,
        }
    )


@pytest.fixture
async def strict_client(strict_server) -> AsyncIterator[ImfaasClient]:
    async with ImfaasClient(strict_server.url) as c:
        yield c


async def test_a_users_devices_share_a_types_rate_then_4429(
    strict_client: ImfaasClient, password: str
) -> None:
    name, alice, phone_session = await sign_up(strict_client, password)
    _, bob, bob_session = await sign_up(strict_client, password)
    laptop_session = await strict_client.login(name, password, device_id="laptop")
    phone = await strict_client.connect(phone_session)
    laptop = await strict_client.connect(laptop_session)
    b = await strict_client.connect(bob_session)

    async def send(conn: Connection, i: int) -> dict:
        return await conn.request_raw(
            "msg.send", id=f"m{i}", to=bob, client_msg_id=f"m{i}", content=text(str(i))
        )

    replies = [await send(phone, 0), await send(laptop, 1), await send(phone, 2)]
    assert [r["type"] for r in replies] == ["msg.ack"] * 3
    refused = await send(laptop, 3)
    assert (refused["type"], refused["code"], refused["id"]) == ("error", "rate_limited", "m3")
    # The refused message was not sent: Bob got three.
    assert [(await b.next_event("msg.new"))["message"]["seq"] for _ in range(3)] == [1, 2, 3]
    history = await b.request("msg.history", conversation=direct_conversation(alice, bob))
    assert len(history["messages"]) == 3
    # Other types and other users are not affected.
    assert (await laptop.request("sync", cursors={}))["type"] == "sync.result"
    ack = await b.request("msg.send", to=alice, client_msg_id="b", content=text("b"))
    assert ack["type"] == "msg.ack"
    # A socket that keeps going past the refusals is closed 4429; the user's other one lives.
    for i in range(500):
        if laptop.close_code is not None:
            break
        frame = {"type": "msg.send", "id": f"x{i}", "to": bob, "client_msg_id": f"x{i}"}
        with contextlib.suppress(ConnectionError):
            await laptop.send_frame({**frame, "content": text("x")})
    assert await laptop.wait_closed() == 4429
    assert (await phone.request("ping"))["type"] == "pong"


# -- internal delivery credential -------------------------------------------------------------


async def post_delivery(base_url: str, token: str | None) -> tuple[int, dict | None]:
    """POST an empty delivery batch with this internal token; (status, JSON body or None)."""
    headers, body = encode_http(new_event(catalog.GATEWAY_DELIVERY, "/e2e", {"items": []}))
    if token is not None:
        headers["X-Imfaas-Internal-Token"] = token
    async with aiohttp.ClientSession() as http:
        async with http.post(base_url + "/internal/v1/deliver", data=body, headers=headers) as r:
            return r.status, await r.json() if r.content_type == "application/json" else None


@pytest.mark.parametrize("token", [None, "", "wrong", INTERNAL_TOKEN[:-1], INTERNAL_TOKEN + "x"])
async def test_delivery_without_the_internal_token_is_refused(strict_server, token) -> None:
    status, body = await post_delivery(strict_server.url, token)

    assert status == 401
    assert body is not None and body["error"]["code"] == "unauthorized"


async def test_delivery_with_the_internal_token_is_accepted(strict_server) -> None:
    status, body = await post_delivery(strict_server.url, INTERNAL_TOKEN)

    assert (status, body) == (202, {"sent": 0})


async def test_by_default_delivery_is_closed_to_callers_without_a_token(server) -> None:
    # No token configured: imfaas dev and imfaas up make one up, so nobody outside gets in.
    assert (await post_delivery(server.url, None))[0] == 401
    assert (await post_delivery(server.url, ""))[0] == 401


# -- connection caps ---------------------------------------------------------------------------

CAP = 3


@pytest.fixture(scope="module")
def capped_server(dev_server_factory):
    return dev_server_factory({"IMFAAS_MAX_CONNECTIONS_PER_IP": str(CAP)})


async def test_the_socket_beyond_the_per_ip_cap_is_closed_1013_and_the_rest_live(
    capped_server, password: str
) -> None:
    async with ImfaasClient(capped_server.url) as client:
        users = [await sign_up(client, password) for _ in range(CAP)]
        # Every socket to the same node (the first gateway), whichever node login chose.
        sockets = []
        for _, _, session in users:
            conn = await client.open_socket()
            await conn.request("auth", token=session.access_token)
            sockets.append(conn)
        beyond = await client.open_socket()
        assert await beyond.wait_closed() == 1013
        for conn in sockets:
            assert (await conn.request("ping"))["type"] == "pong"
        # A closed socket gives its place back (the server counts it down when it sees it).
        await sockets.pop().close()
        for _ in range(100):
            again = await client.open_socket()
            try:
                reply = await again.request_raw("auth", token=users[-1][2].access_token)
            except ConnectionError:
                await asyncio.sleep(0.05)
                continue
            assert reply["type"] == "auth.ok"
            break
        else:
            pytest.fail("the closed socket's place never came back")
        for conn in sockets:
            assert (await conn.request("ping"))["type"] == "pong"
