"""Group messages in the store: one activity write per message (no row per member), a
message.stored without a member list, and nothing stored for a group that is gone."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from imfaas.events import catalog
from imfaas.events.schema_registry import conforms
from imfaas.functions.group.handler import create_function as create_group
from imfaas.functions.send.handler import create_function as create_send
from imfaas.shared.errors import BackendUnavailable, NotFound
from imfaas.shared.ports.user_directory import UserRecord
from imfaas.shared.testing import identity, reply_frame

from .test_store import FILE, file_submitted, stored, submitted

USERS = ("ua", "ub", "uc", "ud")


class Groups:
    """The group function on the store's ports; its own events are dropped."""

    def __init__(self, env: Any) -> None:
        self.env = env
        self.fn = create_group(env.settings, env.ports)

    async def ask(self, user: str, frame: dict[str, Any]) -> dict[str, Any]:
        reply = await reply_frame(self.fn.handle, {"id": "g", **frame}, identity(user))
        assert reply is not None and reply["type"].endswith(".ok"), reply
        self.env.bus.published.clear()
        return reply

    async def create(self, members: list[str]) -> str:
        reply = await self.ask("ua", {"type": "group.create", "name": "t", "members": members})
        return reply["conversation"]


@pytest.fixture
async def groups(env) -> Groups:
    """The group function; users ua..ud exist (so they can be made members)."""
    await asyncio.gather(
        *(env.ports.users.create_user(UserRecord(u, u.upper(), "x", 0)) for u in USERS)
    )
    return Groups(env)


@pytest.fixture
async def conv(groups) -> str:
    """``g:<id>``: owner ua, members ub and uc."""
    return await groups.create(["ub", "uc"])


async def nothing_stored(env, conversation: str) -> None:
    assert env.bus.published == []
    assert await env.ports.messages.read_after(conversation, 0, 10) == []
    assert await env.ports.conversations.activity([conversation]) == {}
    for user in USERS:
        assert await env.ports.conversations.list_for_user(user, None) == []


async def test_group_messages_get_seqs_and_are_announced_without_members(env, conv):
    for n in (1, 2, 3):
        sender = ("ua", "ub", "uc")[n - 1]
        event = submitted(conversation=conv, sender=sender, client_msg_id=f"cm-{n}", text=f"t{n}")
        assert await env.fn.handle(event) is None

    announced = stored(env)
    assert [d["message"]["seq"] for d in announced] == [1, 2, 3]
    assert [d["message"]["sender"] for d in announced] == ["ua", "ub", "uc"]
    assert [key for _, key in env.bus.published] == [conv] * 3
    assert [event["subject"] for event, _ in env.bus.published] == [conv] * 3
    for data in announced:
        assert set(data) == {"message", "duplicate", "reply_to"}  # no "members"
        assert data["duplicate"] is False
        assert data["message"]["conversation"] == conv
        assert data["reply_to"] == {"node": "gw-1", "conn": "c1", "request_id": "r1"}
        assert conforms("events/message.stored.json", data)
    log = await env.ports.messages.read_after(conv, 0, 10)
    assert [m.to_wire() for m in log] == [d["message"] for d in announced]


async def test_a_group_message_writes_the_activity_once_and_no_member_rows(env, conv):
    await env.fn.handle(submitted(conversation=conv, client_msg_id="cm-1"))
    await env.fn.handle(submitted(conversation=conv, sender="ub", client_msg_id="cm-2"))

    last = stored(env)[-1]["message"]
    assert await env.ports.conversations.activity([conv]) == {conv: (2, last["ts"])}
    for user in USERS:
        assert await env.ports.conversations.list_for_user(user, None) == []


async def test_direct_messages_keep_their_members_beside_a_group(env, conv):
    await env.fn.handle(submitted(conversation=conv, client_msg_id="g1"))
    await env.fn.handle(submitted(conversation="d:ua:ub", client_msg_id="d1"))
    await env.fn.handle(submitted(conversation=conv, client_msg_id="g2"))

    group_1, direct, group_2 = stored(env)
    assert "members" not in group_1 and "members" not in group_2
    assert sorted(direct["members"]) == ["ua", "ub"]
    assert [(d["message"]["conversation"], d["message"]["seq"]) for d in stored(env)] == [
        (conv, 1),
        ("d:ua:ub", 1),
        (conv, 2),
    ]
    rows = await env.ports.conversations.list_for_user("ub", None)
    assert [(e.conversation, e.last_seq) for e in rows] == [("d:ua:ub", 1)]
    assert (await env.ports.conversations.activity([conv, "d:ua:ub"]))[conv][0] == 2


async def test_a_resend_in_a_group_is_a_duplicate_without_members(env, conv):
    await env.fn.handle(submitted(conversation=conv, client_msg_id="cm-1"))
    await env.fn.handle(
        submitted(conversation=conv, client_msg_id="cm-1", request_id="r2", conn="c9")
    )

    first, again = stored(env)
    assert again["duplicate"] is True
    assert again["message"] == first["message"]
    assert "members" not in again
    assert again["reply_to"] == {"node": "gw-1", "conn": "c9", "request_id": "r2"}
    assert len(await env.ports.messages.read_after(conv, 0, 10)) == 1
    assert (await env.ports.conversations.activity([conv]))[conv][0] == 1


async def test_a_group_dissolved_before_the_store_stores_nothing(env, groups, conv):
    await groups.ask("ua", {"type": "group.dissolve", "group_id": conv[2:]})

    with pytest.raises(NotFound):
        await env.fn.handle(submitted(conversation=conv))

    await nothing_stored(env, conv)


async def test_an_unknown_group_stores_nothing(env, groups):
    with pytest.raises(NotFound):
        await env.fn.handle(submitted(conversation="g:nosuch"))
    await nothing_stored(env, "g:nosuch")


async def test_a_group_dissolved_after_its_first_message_stores_no_second(env, groups, conv):
    await env.fn.handle(submitted(conversation=conv, client_msg_id="cm-1"))
    await groups.ask("ua", {"type": "group.dissolve", "group_id": conv[2:]})
    env.bus.published.clear()
    before = await env.ports.conversations.activity([conv])

    with pytest.raises(NotFound):
        await env.fn.handle(submitted(conversation=conv, client_msg_id="cm-2"))

    assert env.bus.published == []
    assert [m.seq for m in await env.ports.messages.read_after(conv, 0, 10)] == [1]
    assert await env.ports.conversations.activity([conv]) == before


async def test_redelivery_after_a_failed_publish_announces_the_group_message(env, conv):
    event = submitted(conversation=conv)
    env.bus.fail_with = BackendUnavailable("broker down")
    with pytest.raises(BackendUnavailable):
        await env.fn.handle(event)
    # Written, and its activity too, before the announcement failed.
    assert (await env.ports.conversations.activity([conv]))[conv][0] == 1

    env.bus.fail_with = None
    await env.fn.handle(event)

    (data,) = stored(env)
    assert (data["message"]["seq"], data["duplicate"]) == (1, False)
    assert "members" not in data
    assert len(await env.ports.messages.read_after(conv, 0, 10)) == 1


async def test_a_file_in_a_group_is_referenced_by_the_group(env, conv):
    await env.fn.handle(file_submitted(conversation=conv))

    assert await env.ports.media.conversations_referencing("k-1") == [conv]
    assert stored(env)[0]["message"]["content"] == FILE


async def test_store_takes_what_send_publishes_for_a_group(env, conv):
    send = create_send(env.settings, env.ports)
    await send.start()
    text = {"kind": "text", "text": "hello team"}
    frame = {"type": "msg.send", "id": "q9", "conversation": conv, "client_msg_id": "x"}
    who = identity("uc", "dc1", "c7", "gw-2")
    assert await reply_frame(send.handle, frame | {"content": text}, who) is None

    for event in env.bus.of_type(catalog.MESSAGE_SUBMITTED):
        assert await env.fn.handle(event) is None

    [data] = stored(env)
    assert {k: data["message"][k] for k in ("conversation", "sender", "sender_device")} == {
        "conversation": conv,
        "sender": "uc",
        "sender_device": "dc1",
    }
    assert (data["message"]["seq"], data["message"]["content"]) == (1, text)
    assert data == {
        "message": data["message"],
        "duplicate": False,
        "reply_to": {"node": "gw-2", "conn": "c7", "request_id": "q9"},
    }
