"""message.submitted → durable message with a gap-free seq → message.stored (protocol §3)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from imfaas.events import catalog
from imfaas.events.codec import new_event
from imfaas.functions.send.handler import create_function as create_send
from imfaas.shared.errors import BackendUnavailable, BadRequest
from imfaas.shared.ports.user_directory import UserRecord
from imfaas.shared.testing import identity, reply_frame

CONV = "d:ua:ub"


def submitted_data(
    conversation: str = CONV,
    sender: str = "ua",
    client_msg_id: str = "cm-1",
    sender_device: str = "da1",
    text: str = "hello",
    request_id: str = "r1",
    node: str = "gw-1",
    conn: str = "c1",
) -> dict[str, Any]:
    """The data of a ``message.submitted`` event, as the send function builds it."""
    return {
        "conversation": conversation,
        "sender": sender,
        "sender_device": sender_device,
        "client_msg_id": client_msg_id,
        "content": {"kind": "text", "text": text},
        "submitted_ts": 1,
        "reply_to": {"node": node, "conn": conn, "request_id": request_id},
    }


def submitted(**fields: Any):
    data = submitted_data(**fields)
    return new_event(catalog.MESSAGE_SUBMITTED, "/test", data, subject=data["conversation"])


def stored(env) -> list[dict[str, Any]]:
    return [event.get_data() for event in env.bus.of_type(catalog.MESSAGE_STORED)]


async def test_seqs_are_1_2_3_in_order_and_each_is_announced(env):
    for n in (1, 2, 3):
        result = await env.fn.handle(submitted(client_msg_id=f"cm-{n}", text=f"t{n}"))
        assert result is None
    assert [d["message"]["seq"] for d in stored(env)] == [1, 2, 3]
    assert [d["duplicate"] for d in stored(env)] == [False, False, False]
    assert [key for _, key in env.bus.published] == [CONV, CONV, CONV]
    first = stored(env)[0]
    message = first["message"]
    assert message["conversation"] == CONV
    assert message["sender"] == "ua"
    assert message["sender_device"] == "da1"
    assert message["client_msg_id"] == "cm-1"
    assert message["content"] == {"kind": "text", "text": "t1"}
    assert isinstance(message["msg_id"], str) and message["msg_id"]
    assert isinstance(message["ts"], int) and message["ts"] > 0
    assert first["reply_to"] == {"node": "gw-1", "conn": "c1", "request_id": "r1"}
    assert sorted(first["members"]) == ["ua", "ub"]
    assert len({d["message"]["msg_id"] for d in stored(env)}) == 3


async def test_stored_messages_are_durable_in_the_log(env):
    for n in (1, 2, 3):
        await env.fn.handle(submitted(client_msg_id=f"cm-{n}", text=f"t{n}"))
    log = await env.ports.messages.read_after(CONV, 0, 10)
    assert [(m.seq, m.content["text"]) for m in log] == [(1, "t1"), (2, "t2"), (3, "t3")]
    assert [m.to_wire() for m in log] == [d["message"] for d in stored(env)]


async def test_resend_is_a_duplicate_with_the_same_seq_and_uses_no_seq(env):
    await env.fn.handle(submitted(client_msg_id="cm-1", request_id="r1"))
    await env.fn.handle(submitted(client_msg_id="cm-1", request_id="r2", conn="c9", text="again"))
    first, again = stored(env)
    assert again["duplicate"] is True
    assert again["message"] == first["message"]
    # The ack of the resend goes to the socket that resent it.
    assert again["reply_to"] == {"node": "gw-1", "conn": "c9", "request_id": "r2"}
    await env.fn.handle(submitted(client_msg_id="cm-2"))
    assert stored(env)[-1]["message"]["seq"] == 2
    assert stored(env)[-1]["duplicate"] is False
    assert len(await env.ports.messages.read_after(CONV, 0, 10)) == 2


async def test_same_client_msg_id_from_another_device_of_the_sender_is_a_duplicate(env):
    await env.fn.handle(submitted(client_msg_id="cm-1", sender_device="da1"))
    await env.fn.handle(submitted(client_msg_id="cm-1", sender_device="da2", request_id="r2"))
    first, again = stored(env)
    assert again["duplicate"] is True
    assert again["message"]["seq"] == first["message"]["seq"] == 1
    assert again["message"]["sender_device"] == "da1"
    assert len(await env.ports.messages.read_after(CONV, 0, 10)) == 1


async def test_same_client_msg_id_from_another_sender_is_not_a_duplicate(env):
    await env.fn.handle(submitted(sender="ua", client_msg_id="cm-1"))
    await env.fn.handle(submitted(sender="ub", sender_device="db1", client_msg_id="cm-1"))
    first, second = stored(env)
    assert second["duplicate"] is False
    assert (first["message"]["seq"], second["message"]["seq"]) == (1, 2)
    assert second["message"]["sender"] == "ub"


async def test_both_members_get_the_conversation_in_their_index(env):
    await env.fn.handle(submitted(client_msg_id="cm-1"))
    await env.fn.handle(submitted(client_msg_id="cm-2"))
    for user in ("ua", "ub"):
        entries = await env.ports.conversations.list_for_user(user, 10)
        assert [(e.conversation, e.last_seq) for e in entries] == [(CONV, 2)]
        assert entries[0].last_ts == stored(env)[-1]["message"]["ts"]
    assert await env.ports.conversations.list_for_user("uc", 10) == []


async def test_seqs_of_two_conversations_are_independent(env):
    await env.fn.handle(submitted(conversation="d:ua:ub", client_msg_id="a1"))
    await env.fn.handle(submitted(conversation="d:ua:ub", client_msg_id="a2"))
    await env.fn.handle(submitted(conversation="d:ua:uc", client_msg_id="b1"))
    await env.fn.handle(submitted(conversation="d:ua:ub", client_msg_id="a3"))
    await env.fn.handle(submitted(conversation="d:ua:uc", client_msg_id="b2"))
    seqs = [(d["message"]["conversation"], d["message"]["seq"]) for d in stored(env)]
    assert seqs == [
        ("d:ua:ub", 1),
        ("d:ua:ub", 2),
        ("d:ua:uc", 1),
        ("d:ua:ub", 3),
        ("d:ua:uc", 2),
    ]
    assert [key for _, key in env.bus.published] == [c for c, _ in seqs]
    assert [
        (e.conversation, e.last_seq) for e in await env.ports.conversations.list_for_user("uc", 10)
    ] == [("d:ua:uc", 2)]


def _without(path: tuple[str, ...]) -> dict[str, Any]:
    data = copy.deepcopy(submitted_data())
    target = data
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return data


@pytest.mark.parametrize(
    "data",
    [
        _without(("conversation",)),
        _without(("sender",)),
        _without(("sender_device",)),
        _without(("client_msg_id",)),
        _without(("content",)),
        _without(("reply_to",)),
        _without(("reply_to", "conn")),
        _without(("reply_to", "request_id")),
        {**submitted_data(), "reply_to": "gw-1/c1"},
        {**submitted_data(), "conversation": "x:1"},
        ["not", "an", "object"],
        "text",
        None,
    ],
    ids=[
        "no-conversation",
        "no-sender",
        "no-sender-device",
        "no-client-msg-id",
        "no-content",
        "no-reply-to",
        "no-reply-to-conn",
        "no-reply-to-request-id",
        "reply-to-string",
        "bad-conversation",
        "list",
        "string",
        "null",
    ],
)
async def test_malformed_event_raises_and_stores_nothing(env, data):
    event = new_event(catalog.MESSAGE_SUBMITTED, "/test", data)
    with pytest.raises(BadRequest):
        await env.fn.handle(event)
    assert env.bus.published == []
    assert await env.ports.messages.read_after(CONV, 0, 10) == []
    assert await env.ports.conversations.list_for_user("ua", 10) == []
    # The next good message still gets seq 1: nothing was used up.
    await env.fn.handle(submitted())
    assert stored(env)[0]["message"]["seq"] == 1


async def test_conversation_that_is_not_a_string_raises_and_stores_nothing(env):
    event = new_event(catalog.MESSAGE_SUBMITTED, "/test", {**submitted_data(), "conversation": 12})
    with pytest.raises(Exception):  # noqa: B017 - any exception makes the bus retry
        await env.fn.handle(event)
    assert env.bus.published == []
    assert await env.ports.conversations.list_for_user("ua", 10) == []


async def test_event_of_another_type_raises(env):
    event = new_event(catalog.MESSAGE_STORED, "/test", submitted_data())
    with pytest.raises(BadRequest):
        await env.fn.handle(event)
    assert env.bus.published == []
    assert await env.ports.messages.read_after(CONV, 0, 10) == []


async def test_unavailable_bus_raises_so_the_event_is_retried(env):
    env.bus.fail_with = BackendUnavailable("broker down")
    with pytest.raises(BackendUnavailable):
        await env.fn.handle(submitted())
    assert env.bus.published == []


async def test_redelivery_after_a_failed_publish_announces_the_same_message(env):
    event = submitted(client_msg_id="cm-1")
    env.bus.fail_with = BackendUnavailable("broker down")
    with pytest.raises(BackendUnavailable):
        await env.fn.handle(event)
    env.bus.fail_with = None
    await env.fn.handle(event)  # the bus redelivers the very same event
    (data,) = stored(env)
    assert data["message"]["seq"] == 1
    assert len(await env.ports.messages.read_after(CONV, 0, 10)) == 1
    assert [
        (e.conversation, e.last_seq) for e in await env.ports.conversations.list_for_user("ub", 10)
    ] == [(CONV, 1)]


async def test_redelivery_after_a_failed_publish_is_not_treated_as_a_resend(env):
    # The first attempt wrote the message but could not announce it, so no member has it.
    # A retry of the same event is not a client resend: protocol §3 says delivery is
    # at least once to every online device, so the announcement must not be marked
    # ``duplicate`` (fanout would then send only the ack and no ``msg.new`` to anyone).
    event = submitted(client_msg_id="cm-1")
    env.bus.fail_with = BackendUnavailable("broker down")
    with pytest.raises(BackendUnavailable):
        await env.fn.handle(event)
    env.bus.fail_with = None
    await env.fn.handle(event)
    (data,) = stored(env)
    assert data["duplicate"] is False


async def test_store_accepts_what_send_publishes(env):
    for user in ("ua", "ub"):
        await env.ports.users.create_user(UserRecord(user, "name-" + user, "x", 0))
    send = create_send(env.settings, env.ports)
    await send.start()
    frame = {
        "type": "msg.send",
        "id": "req-1",
        "to": "ub",
        "client_msg_id": "cm-1",
        "content": {"kind": "text", "text": "hi"},
    }
    assert await reply_frame(send.handle, frame, identity("ua", "da1", "c7", "gw-2")) is None
    (submitted_event,) = env.bus.of_type(catalog.MESSAGE_SUBMITTED)
    assert await env.fn.handle(submitted_event) is None
    (data,) = stored(env)
    assert data["duplicate"] is False
    assert data["message"]["seq"] == 1
    assert data["message"]["conversation"] == CONV
    assert data["message"]["sender"] == "ua"
    assert data["message"]["sender_device"] == "da1"
    assert data["message"]["content"] == {"kind": "text", "text": "hi"}
    assert data["reply_to"] == {"node": "gw-2", "conn": "c7", "request_id": "req-1"}


async def test_client_msg_id_reused_in_another_conversation_gives_no_outsider_access(env):
    # Dedup is keyed on (sender, client_msg_id) only, so the second submission returns the
    # message already stored in d:ua:ub. That must not add d:ua:ub to uc's conversation
    # index (uc would then see it in conv.list and get its messages from sync), and the
    # announced members must be the members of the announced message's conversation.
    await env.fn.handle(submitted(conversation="d:ua:ub", client_msg_id="cm-1"))
    await env.fn.handle(submitted(conversation="d:ua:uc", client_msg_id="cm-1", request_id="r2"))
    for data in stored(env):
        conversation = data["message"]["conversation"]
        assert all(member in conversation.split(":")[1:] for member in data["members"])
    outsider = [e.conversation for e in await env.ports.conversations.list_for_user("uc", 10)]
    assert "d:ua:ub" not in outsider


FILE = {"kind": "file", "object_key": "k-1", "name": "a.png", "size": 3, "mime": "image/png"}


def file_submitted(conversation: str = CONV, client_msg_id: str = "cm-f"):
    data = submitted_data(conversation=conversation, client_msg_id=client_msg_id)
    data["content"] = dict(FILE)
    return new_event(catalog.MESSAGE_SUBMITTED, "/test", data, subject=conversation)


async def test_a_stored_file_message_records_its_conversation_before_announcing_it(env):
    env.bus.fail_with = BackendUnavailable("broker down")
    event = file_submitted()
    with pytest.raises(BackendUnavailable):
        await env.fn.handle(event)
    # Recorded although nobody heard of it yet; the redelivery announces it once.
    assert await env.ports.media.conversations_referencing("k-1") == [CONV]
    env.bus.fail_with = None
    await env.fn.handle(event)
    await env.fn.handle(file_submitted(conversation="d:ua:uc", client_msg_id="cm-g"))

    assert await env.ports.media.conversations_referencing("k-1") == [CONV, "d:ua:uc"]
    assert [d["message"]["content"] for d in stored(env)] == [FILE, FILE]


async def test_text_messages_reference_no_object(env):
    await env.fn.handle(submitted())
    await env.fn.handle(submitted(client_msg_id="cm-2", text="k-1"))
    assert await env.ports.media.conversations_referencing("k-1") == []
