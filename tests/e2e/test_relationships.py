"""Protocol §4 relationships end to end: friend requests, acceptance, lists, blocks, and
what they allow in direct messages (blocks both ways; the friends-only policy)."""

from __future__ import annotations

import itertools
import os
from collections.abc import AsyncIterator

import pytest

from imfaas.client import ImfaasClient
from imfaas.shared.conversation_id import direct_conversation

from .conftest import checked_client

TEXT = {"kind": "text", "text": "hello"}
_cmids = itertools.count(1)


def friend_lists(reply: dict) -> dict:
    return {k: reply[k] for k in ("friends", "pending_in", "pending_out", "blocked")}


def lists(friends=(), pending_in=(), pending_out=(), blocked=()) -> dict:
    return {
        "friends": list(friends),
        "pending_in": list(pending_in),
        "pending_out": list(pending_out),
        "blocked": list(blocked),
    }


async def send_text(conn, to: str) -> dict:
    """A msg.send to ``to``; the reply (ack or error)."""
    return await conn.request_raw("msg.send", to=to, client_msg_id=f"c{next(_cmids)}", content=TEXT)


async def stored_messages(conn) -> list[dict]:
    """Everything ``sync`` returns to this user."""
    return (await conn.request("sync", cursors={}))["messages"]


async def test_request_accept_list_and_remove(new_user, connect) -> None:
    _, alice, alice_session = await new_user()
    _, bob, bob_session = await new_user()
    a = await connect(alice_session)
    b1 = await connect(bob_session)
    b2 = await connect(bob_session)

    reply = await a.request("friend.request", id="f1", user=bob, message="hi, it's Alice")
    assert reply == {"type": "friend.request.ok", "id": "f1"}
    for b in (b1, b2):
        event = await b.next_event("friend.event")
        assert event == {
            "type": "friend.event",
            "kind": "request",
            "user": alice,
            "message": "hi, it's Alice",
        }
    assert friend_lists(await a.request("friend.list")) == lists(pending_out=[bob])
    assert friend_lists(await b1.request("friend.list")) == lists(pending_in=[alice])

    assert (await b1.request("friend.accept", user=alice))["type"] == "friend.accept.ok"
    # Both sides hear of it, each told the other's id (not the socket that accepted).
    assert await a.next_event("friend.event") == {
        "type": "friend.event",
        "kind": "accepted",
        "user": bob,
    }
    assert await b2.next_event("friend.event") == {
        "type": "friend.event",
        "kind": "accepted",
        "user": alice,
    }
    assert friend_lists(await a.request("friend.list")) == lists(friends=[bob])
    assert friend_lists(await b2.request("friend.list")) == lists(friends=[alice])

    assert (await b2.request("friend.remove", user=alice))["type"] == "friend.remove.ok"
    assert friend_lists(await a.request("friend.list")) == lists()
    assert friend_lists(await b1.request("friend.list")) == lists()


async def test_request_back_makes_friends(new_user, connect) -> None:
    _, alice, alice_session = await new_user()
    _, bob, bob_session = await new_user()
    a = await connect(alice_session)
    b = await connect(bob_session)
    await a.request("friend.request", user=bob)
    assert (await b.next_event("friend.event"))["kind"] == "request"

    await b.request("friend.request", user=alice)

    assert await a.next_event("friend.event") == {
        "type": "friend.event",
        "kind": "accepted",
        "user": bob,
    }
    assert friend_lists(await b.request("friend.list")) == lists(friends=[alice])


async def test_relationship_failures_change_nothing(new_user, connect) -> None:
    _, alice, alice_session = await new_user()
    _, bob, _ = await new_user()
    a = await connect(alice_session)
    await a.request("friend.request", user=bob)

    failures = [
        ("friend.request", {"user": "u-nobody"}, "not_found"),
        ("friend.request", {"user": alice}, "bad_request"),
        ("friend.request", {}, "bad_request"),
        ("friend.request", {"user": 5}, "bad_request"),
        ("friend.request", {"user": bob, "message": ["x"]}, "bad_request"),
        ("friend.request", {"user": bob, "message": "x" * 2000}, "too_large"),
        # Alice sent the request: she has none from Bob to accept.
        ("friend.accept", {"user": bob}, "not_found"),
        ("friend.accept", {"user": "u-nobody"}, "not_found"),
        ("friend.remove", {"user": "u-nobody"}, "not_found"),
        ("block", {"user": alice}, "bad_request"),
        ("block", {"user": "u-nobody"}, "not_found"),
        ("unblock", {"user": "u:x"}, "bad_request"),
    ]
    for frame_type, fields, code in failures:
        reply = await a.request_raw(frame_type, **fields)
        assert (reply["type"], reply["code"]) == ("error", code), (frame_type, fields, reply)

    assert friend_lists(await a.request("friend.list")) == lists(pending_out=[bob])


@pytest.mark.parametrize("blocker", ["alice", "bob"])
async def test_a_block_forbids_direct_messages_both_ways_and_stores_nothing(
    new_user, connect, blocker
) -> None:
    _, alice, alice_session = await new_user()
    _, bob, bob_session = await new_user()
    a = await connect(alice_session)
    b = await connect(bob_session)
    blocking, blocked_id = (a, bob) if blocker == "alice" else (b, alice)

    assert (await blocking.request("block", user=blocked_id))["type"] == "block.ok"
    assert friend_lists(await blocking.request("friend.list")) == lists(blocked=[blocked_id])

    for sender, recipient in ((a, bob), (b, alice)):
        reply = await send_text(sender, recipient)
        assert (reply["type"], reply["code"]) == ("error", "forbidden")
        reply = await sender.request_raw(
            "msg.send",
            conversation=direct_conversation(alice, bob),
            client_msg_id=f"c{next(_cmids)}",
            content=TEXT,
        )
        assert (reply["type"], reply["code"]) == ("error", "forbidden")
        reply = await sender.request_raw("friend.request", user=recipient)
        assert (reply["type"], reply["code"]) == ("error", "forbidden")
    assert await stored_messages(a) == []
    assert await stored_messages(b) == []

    assert (await blocking.request("unblock", user=blocked_id))["type"] == "unblock.ok"
    ack = await send_text(b, alice)
    # Seq 1: none of the refused sends was stored.
    assert (ack["type"], ack["seq"]) == ("msg.ack", 1)
    assert (await a.next_event("msg.new"))["message"]["seq"] == 1


@pytest.fixture(scope="module")
def friends_only_server(dev_server_factory):
    return dev_server_factory({"IMFAAS_DIRECT_MESSAGE_POLICY": "friends"})


@pytest.fixture
async def friends_only_client(friends_only_server) -> AsyncIterator[ImfaasClient]:
    async with checked_client(friends_only_server.url) as c:
        yield c


async def test_friends_only_policy_forbids_strangers_until_they_are_friends(
    friends_only_client, password
) -> None:
    sessions = {}
    for name in ("alice", "bob"):
        username = f"{name}{os.getpid()}x{next(_cmids)}"
        await friends_only_client.register(username, password)
        sessions[name] = await friends_only_client.login(username, password)
    a = await friends_only_client.connect(sessions["alice"])
    b = await friends_only_client.connect(sessions["bob"])
    alice, bob = sessions["alice"].user_id, sessions["bob"].user_id

    reply = await send_text(a, bob)
    assert (reply["type"], reply["code"]) == ("error", "forbidden")
    await a.request("friend.request", user=bob)
    # A pending request is not a friendship, either way.
    for sender, recipient in ((a, bob), (b, alice)):
        reply = await send_text(sender, recipient)
        assert (reply["type"], reply["code"]) == ("error", "forbidden")
    assert await stored_messages(a) == []

    await b.request("friend.accept", user=alice)
    ack = await send_text(a, bob)
    assert (ack["type"], ack["seq"]) == ("msg.ack", 1)
    assert (await b.next_event("msg.new"))["message"]["sender"] == alice
