"""Protocol §3 end to end: msg.read and receipts, conv.list counters, msg.recall, msg.edit."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator

import pytest

from imfaas.client import Connection, ImfaasClient
from imfaas.events.schema_registry import frame_problems

_sent = itertools.count()


def text(value: str) -> dict:
    return {"kind": "text", "text": value}


async def send(conn: Connection, to: str, value: str = "hi") -> dict:
    """Send a text; return the ack."""
    return await conn.request(
        "msg.send", to=to, client_msg_id=f"c{next(_sent)}", content=text(value)
    )


async def row(conn: Connection, conversation: str) -> dict:
    """The caller's conv.list row of one conversation."""
    listed = (await conn.request("conv.list"))["conversations"]
    return next(c for c in listed if c["conversation"] == conversation)


async def error_code(conn: Connection, frame_type: str, **fields) -> str:
    reply = await conn.request_raw(frame_type, **fields)
    assert reply["type"] == "error", reply
    return reply["code"]


async def assert_nothing(conn: Connection, event_type: str) -> None:
    """The socket gets no such event (checked after the others already got theirs)."""
    with pytest.raises(TimeoutError):
        await conn.next_event(event_type, timeout=0.5)


async def pair(new_user, connect):
    """Alice (two devices) and Bob, each device connected."""
    alice_name, alice, alice_session = await new_user()
    _, bob, bob_session = await new_user()
    a1 = await connect(alice_session)
    b = await connect(bob_session)
    return alice_name, alice, a1, bob, b


async def test_read_sends_receipts_and_drops_unread(new_user, connect, client, password) -> None:
    alice_name, alice, a1, bob, b = await pair(new_user, connect)
    a2 = await connect(await client.login(alice_name, password, device_id="second", platform="web"))
    for n in range(3):
        ack = await send(b, alice, f"m{n}")
    conversation = ack["conversation"]
    await send(a1, bob, "mine")
    before = await row(a1, conversation)
    assert (before["last_seq"], before["read_seq"], before["unread"]) == (4, 0, 3)
    assert before["last_message"]["content"] == text("mine")

    reply = await a1.request("msg.read", id="r1", conversation=conversation, seq=2)
    assert reply == {"type": "msg.read.ok", "id": "r1"}

    receipt = {"type": "receipt", "conversation": conversation, "user": alice, "seq": 2}
    assert await b.next_event("receipt") == receipt
    assert await a2.next_event("receipt") == receipt  # the reader's other device
    await assert_nothing(a1, "receipt")
    after = await row(a2, conversation)
    assert (after["read_seq"], after["unread"]) == (2, 1)
    assert (await row(b, conversation))["read_seq"] == 0

    await a2.request("msg.read", conversation=conversation, seq=4)
    assert (await a1.next_event("receipt"))["seq"] == 4
    assert (await row(a1, conversation))["unread"] == 0


async def test_refused_reads_change_nothing(new_user, connect) -> None:
    _, alice, a1, _, b = await pair(new_user, connect)
    _, _, eve_session = await new_user()
    eve = await connect(eve_session)
    conversation = (await send(b, alice))["conversation"]

    assert await error_code(a1, "msg.read", conversation=conversation, seq=2) == "bad_request"
    assert await error_code(a1, "msg.read", conversation=conversation, seq=0) == "bad_request"
    assert await error_code(a1, "msg.read", conversation="g:nogroup", seq=1) == "not_found"
    assert await error_code(eve, "msg.read", conversation=conversation, seq=1) == "forbidden"

    listed = await row(a1, conversation)
    assert (listed["read_seq"], listed["unread"]) == (0, 1)
    await assert_nothing(b, "receipt")


async def test_sender_recalls_and_everyone_sees_it_recalled(new_user, connect) -> None:
    _, alice, a1, bob, b = await pair(new_user, connect)
    ack = await send(a1, bob, "oops")
    await send(b, alice, "later")
    conversation = ack["conversation"]
    await b.next_event("msg.new")
    assert (await row(b, conversation))["unread"] == 1

    reply = await a1.request("msg.recall", id="r2", conversation=conversation, seq=1)

    assert reply == {"type": "msg.recall.ok", "id": "r2"}
    event = await b.next_event("msg.recalled")
    assert event == {"type": "msg.recalled", "conversation": conversation, "seq": 1}
    synced = (await b.request("sync", cursors={conversation: 0}))["messages"]
    assert [m["seq"] for m in synced] == [1, 2]
    assert synced[0]["recalled"] is True and "content" not in synced[0]
    assert synced[0]["msg_id"] == ack["msg_id"]
    history = (await a1.request("msg.history", conversation=conversation))["messages"]
    assert [(m["seq"], m.get("recalled", False)) for m in history] == [(2, False), (1, True)]
    assert (await row(b, conversation))["unread"] == 0  # a recalled message is not unread

    await a1.request("msg.recall", conversation=conversation, seq=1)  # a retry is fine
    assert await error_code(b, "msg.recall", conversation=conversation, seq=1) == "forbidden"


async def test_recalled_last_message(new_user, connect) -> None:
    _, _, a1, bob, b = await pair(new_user, connect)
    conversation = (await send(a1, bob, "gone soon"))["conversation"]

    await a1.request("msg.recall", conversation=conversation, seq=1)

    last = (await row(b, conversation))["last_message"]
    assert last["seq"] == 1 and last["recalled"] is True and "content" not in last


async def test_only_the_sender_recalls_and_unknown_seqs_are_not_found(new_user, connect) -> None:
    _, _, a1, bob, b = await pair(new_user, connect)
    _, _, eve_session = await new_user()
    eve = await connect(eve_session)
    conversation = (await send(a1, bob, "mine"))["conversation"]

    assert await error_code(b, "msg.recall", conversation=conversation, seq=1) == "forbidden"
    assert await error_code(eve, "msg.recall", conversation=conversation, seq=1) == "forbidden"
    assert await error_code(a1, "msg.recall", conversation=conversation, seq=2) == "not_found"

    history = (await b.request("msg.history", conversation=conversation))["messages"]
    assert history[0]["content"] == text("mine") and "recalled" not in history[0]
    await assert_nothing(b, "msg.recalled")


@pytest.fixture(scope="module")
def short_window_server(dev_server_factory):
    return dev_server_factory({"IMFAAS_RECALL_WINDOW_S": "1"})


@pytest.fixture
async def short_window_client(short_window_server) -> AsyncIterator[ImfaasClient]:
    problems: list[str] = []

    def check(frame: dict) -> None:
        problems.extend(f"{frame.get('type')}: {p}" for p in frame_problems(frame))

    async with ImfaasClient(short_window_server.url, on_frame=check) as c:
        yield c
    assert not problems, problems


async def test_recall_after_the_window_is_forbidden(short_window_client, password) -> None:
    c = short_window_client
    sessions = []
    for _ in range(2):
        username = f"recall{uuid.uuid4().hex[:12]}"
        sessions.append((await c.register(username, password), await c.login(username, password)))
    (_, alice_session), (bob, bob_session) = sessions
    a = await c.connect(alice_session)
    b = await c.connect(bob_session)
    in_time = await send(a, bob, "quick")
    conversation = in_time["conversation"]
    await a.request("msg.recall", conversation=conversation, seq=in_time["seq"])
    too_late = await send(a, bob, "slow")

    await asyncio.sleep(1.5)  # past the 1 s window

    code = await error_code(a, "msg.recall", conversation=conversation, seq=too_late["seq"])
    assert code == "forbidden"
    history = (await b.request("msg.history", conversation=conversation))["messages"]
    assert history[0]["content"] == text("slow") and history[1]["recalled"] is True


async def test_sender_edits_and_members_see_the_new_content(
    new_user, connect, client, password
) -> None:
    alice_name, _, a1, bob, b = await pair(new_user, connect)
    a2 = await connect(await client.login(alice_name, password, device_id="second", platform="web"))
    ack = await send(a1, bob, "helo")
    conversation = ack["conversation"]

    reply = await a1.request(
        "msg.edit", id="r3", conversation=conversation, seq=1, content=text("hello")
    )

    assert reply == {"type": "msg.edit.ok", "id": "r3"}
    edited = {
        "type": "msg.edited",
        "conversation": conversation,
        "seq": 1,
        "content": text("hello"),
    }
    assert await b.next_event("msg.edited") == edited
    assert await a2.next_event("msg.edited") == edited
    [synced] = (await b.request("sync", cursors={conversation: 0}))["messages"]
    assert (synced["content"], synced["edited"], synced["seq"]) == (text("hello"), True, 1)
    [history] = (await a2.request("msg.history", conversation=conversation))["messages"]
    assert history == synced
    assert (await row(b, conversation))["last_message"] == synced


async def test_refused_edits_change_nothing(new_user, connect) -> None:
    _, _, a1, bob, b = await pair(new_user, connect)
    _, _, eve_session = await new_user()
    eve = await connect(eve_session)
    conversation = (await send(a1, bob, "original"))["conversation"]
    await send(a1, bob, "to recall")
    await a1.request("msg.recall", conversation=conversation, seq=2)
    fields = {"conversation": conversation, "seq": 1, "content": text("changed")}

    assert await error_code(b, "msg.edit", **fields) == "forbidden"
    assert await error_code(eve, "msg.edit", **fields) == "forbidden"
    assert await error_code(a1, "msg.edit", **{**fields, "seq": 2}) == "forbidden"  # recalled
    assert await error_code(a1, "msg.edit", **{**fields, "seq": 3}) == "not_found"
    cipher = {"kind": "cipher", "alg": "x", "ciphertext": "QUJD"}
    assert await error_code(a1, "msg.edit", **{**fields, "content": cipher}) == "bad_request"
    assert await error_code(a1, "msg.edit", **{**fields, "content": text("")}) == "bad_request"
    big = text("é" * 9000)
    assert await error_code(a1, "msg.edit", **{**fields, "content": big}) == "too_large"

    history = (await b.request("msg.history", conversation=conversation))["messages"]
    assert history[1]["content"] == text("original") and "edited" not in history[1]
    await assert_nothing(b, "msg.edited")
