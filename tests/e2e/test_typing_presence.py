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
