"""Protocol §3 typing and §4 presence end to end."""

from __future__ import annotations

import pytest

from imfaas.client import Connection
from imfaas.shared.conversation_id import direct_conversation


async def assert_nothing(conn: Connection, event_type: str) -> None:
    """The socket gets no such event (checked after the others already got theirs)."""
    with pytest.raises(TimeoutError):
        await conn.next_event(event_type, timeout=0.5)


async def test_typing_reaches_the_other_members_sockets_not_the_senders(new_user, connect) -> None:
    _, alice, alice_session = await new_user()
    _, bob, bob_session = await new_user()
    a1 = await connect(alice_session)
    a2 = await connect(alice_session)
    b1 = await connect(bob_session)
    b2 = await connect(bob_session)
    conversation = direct_conversation(alice, bob)

    reply = await a1.request("typing", id="t1", conversation=conversation)

    assert reply == {"type": "typing.ok", "id": "t1"}
    for b in (b1, b2):
        event = await b.next_event("typing")
        assert event == {"type": "typing", "conversation": conversation, "user": alice}
    await assert_nothing(a1, "typing")
    await assert_nothing(a2, "typing")


async def test_typing_in_a_group_reaches_the_other_members(new_user, connect) -> None:
    _, alice, alice_session = await new_user()
    _, bob, bob_session = await new_user()
    *_, carol_session = await new_user()
    a = await connect(alice_session)
    b = await connect(bob_session)
    c = await connect(carol_session)
    group = await a.request("group.create", name="team", members=[bob])

    await a.request("typing", conversation=group["conversation"])

    event = await b.next_event("typing")
    assert event == {"type": "typing", "conversation": group["conversation"], "user": alice}
    reply = await c.request_raw("typing", conversation=group["conversation"])
    assert reply["type"] == "error" and reply["code"] == "not_found"
    await assert_nothing(a, "typing")
    await assert_nothing(b, "typing")


async def test_typing_outside_a_conversation_is_refused(new_user, connect) -> None:
    *_, alice_session = await new_user()
    _, bob, bob_session = await new_user()
    _, carol, _ = await new_user()
    a = await connect(alice_session)
    b = await connect(bob_session)

    reply = await a.request_raw("typing", conversation=direct_conversation(bob, carol))
    assert reply["type"] == "error" and reply["code"] == "forbidden"
    reply = await a.request_raw("typing", conversation="g:nosuchgroup")
    assert reply["type"] == "error" and reply["code"] == "not_found"
    reply = await a.request_raw("typing", conversation="nonsense")
    assert reply["type"] == "error" and reply["code"] == "bad_request"
    await assert_nothing(b, "typing")


async def befriend(a: Connection, a_id: str, b: Connection, b_id: str) -> None:
    await a.request("friend.request", user=b_id)
    await b.request("friend.accept", user=a_id)


async def test_presence_online_then_offline_on_close(new_user, connect) -> None:
    _, alice, alice_session = await new_user()
    _, bob, bob_session = await new_user()
    a = await connect(alice_session)
    b1 = await connect(bob_session)
    await befriend(a, alice, b1, bob)
    await b1.close()

    reply = await a.request("presence.subscribe", id="p1", users=[bob])
    assert reply == {"type": "presence.subscribe.ok", "id": "p1", "presence": {bob: "offline"}}

    b2 = await connect(bob_session)
    online = await a.next_event("presence")
    assert (online["user"], online["status"]) == (bob, "online")
    assert "last_seen" not in online
    await b2.close()
    offline = await a.next_event("presence")
    assert (offline["user"], offline["status"]) == (bob, "offline")
    assert offline["last_seen"] >= online["ts"]


async def test_presence_subscribe_reports_online_users(new_user, connect) -> None:
    _, alice, alice_session = await new_user()
    _, bob, bob_session = await new_user()
    a = await connect(alice_session)
    b = await connect(bob_session)
    await befriend(a, alice, b, bob)

    reply = await a.request("presence.subscribe", users=[bob, alice])
    assert reply["presence"] == {bob: "online", alice: "online"}


async def test_presence_of_a_non_friend_is_forbidden(new_user, connect) -> None:
    *_, alice_session = await new_user()
    _, bob, bob_session = await new_user()
    a = await connect(alice_session)

    reply = await a.request_raw("presence.subscribe", users=[bob])
    assert reply["type"] == "error" and reply["code"] == "forbidden"
    b = await connect(bob_session)
    await b.close()
    await assert_nothing(a, "presence")


async def test_bad_presence_subscribes_are_refused(new_user, connect) -> None:
    *_, alice_session = await new_user()
    a = await connect(alice_session)

    reply = await a.request_raw("presence.subscribe", users="bob")
    assert reply["type"] == "error" and reply["code"] == "bad_request"
    reply = await a.request_raw("presence.subscribe", users=[f"u{i}" for i in range(101)])
    assert reply["type"] == "error" and reply["code"] == "too_large"
    reply = await a.request_raw("presence.subscribe", users=["nosuchuser"])
    assert reply["type"] == "error" and reply["code"] == "not_found"
