"""Protocol §3 end to end: send, deliver, dedup, order, sync, history, multi-device."""

from __future__ import annotations

import asyncio

import pytest

from imfaas.client import ClientError
from imfaas.shared.conversation_id import direct_conversation


def text(value: str) -> dict:
    return {"kind": "text", "text": value}


async def test_send_is_acked_and_delivered(new_user, connect) -> None:
    _, alice, alice_session = await new_user()
    _, bob, bob_session = await new_user()
    a = await connect(alice_session)
    b = await connect(bob_session)
    ack = await a.request("msg.send", id="s1", to=bob, client_msg_id="c-1", content=text("hi"))
    conversation = direct_conversation(alice, bob)
    assert ack["type"] == "msg.ack" and ack["id"] == "s1"
    assert ack["conversation"] == conversation
    assert ack["seq"] == 1 and ack["client_msg_id"] == "c-1"
    assert isinstance(ack["ts"], int) and ack["msg_id"]
    event = await b.next_event("msg.new")
    message = event["message"]
    assert "id" not in event
    assert message == {
        "conversation": conversation,
        "seq": 1,
        "msg_id": ack["msg_id"],
        "sender": alice,
        "sender_device": alice_session.device_id,
        "client_msg_id": "c-1",
        "ts": ack["ts"],
        "content": text("hi"),
    }
    # Replying by conversation id works too and continues the sequence.
    reply = await b.request(
        "msg.send", conversation=conversation, client_msg_id="c-1", content=text("yo")
    )
    assert reply["seq"] == 2
    assert (await a.next_event("msg.new"))["message"]["sender"] == bob


async def test_unknown_recipient_is_not_found(new_user, connect) -> None:
    _, _, session = await new_user()
    conn = await connect(session)
    reply = await conn.request_raw("msg.send", to="u-nobody", client_msg_id="c", content=text("?"))
    assert (reply["type"], reply["code"]) == ("error", "not_found")


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"client_msg_id": "c", "content": {"kind": "text", "text": "x"}}, "bad_request"),
        (
            {"to": "TO", "client_msg_id": "", "content": {"kind": "text", "text": "x"}},
            "bad_request",
        ),
        ({"to": "TO", "client_msg_id": "c", "content": "plain"}, "bad_request"),
        ({"to": "TO", "client_msg_id": "c", "content": {"kind": "gif"}}, "bad_request"),
        (
            {"to": "TO", "client_msg_id": "c", "content": {"kind": "text", "text": ""}},
            "bad_request",
        ),
        (
            {"to": "TO", "client_msg_id": "c", "content": {"kind": "text", "text": "é" * 9000}},
            "too_large",
        ),
        (
            {"conversation": "x:1", "client_msg_id": "c", "content": {"kind": "text", "text": "x"}},
            "bad_request",
        ),
        (
            {
                "conversation": "g:nogroup",
                "client_msg_id": "c",
                "content": {"kind": "text", "text": "x"},
            },
            "not_found",
        ),
    ],
)
async def test_invalid_sends_get_clear_errors(new_user, connect, fields: dict, code: str) -> None:
    _, _, session = await new_user()
    _, bob, _ = await new_user()
    conn = await connect(session)
    if fields.get("to") == "TO":
        fields = {**fields, "to": bob}
    reply = await conn.request_raw("msg.send", **fields)
    assert (reply["type"], reply["code"]) == ("error", code)
    assert (await conn.request("ping"))["type"] == "pong"


async def test_non_members_can_neither_send_nor_read(new_user, connect) -> None:
    _, _, alice_session = await new_user()
    _, bob, _ = await new_user()
    _, _, eve_session = await new_user()
    a = await connect(alice_session)
    ack = await a.request("msg.send", to=bob, client_msg_id="secret", content=text("psst"))
    eve = await connect(eve_session)
    conversation = ack["conversation"]
    for frame_type, fields in [
        ("msg.send", {"conversation": conversation, "client_msg_id": "e1", "content": text("hi")}),
        ("msg.history", {"conversation": conversation}),
        ("sync", {"cursors": {conversation: 0}}),
    ]:
        reply = await eve.request_raw(frame_type, **fields)
        assert (reply["type"], reply["code"]) == ("error", "forbidden"), frame_type
    assert (await eve.request("sync", cursors={}))["messages"] == []


async def test_resend_returns_the_same_ack_and_delivers_nothing_twice(
    new_user, connect, client
) -> None:
    alice_name, _, alice_session = await new_user()
    _, bob, bob_session = await new_user()
    a = await connect(alice_session)
    b = await connect(bob_session)
    first = await a.request("msg.send", to=bob, client_msg_id="dup", content=text("once"))
    again = await a.request("msg.send", to=bob, client_msg_id="dup", content=text("once"))
    assert {k: v for k, v in again.items() if k != "id"} == {
        k: v for k, v in first.items() if k != "id"
    }
    # A resend from the sender's other device is the same message too.
    other_device = await client.login(alice_name, "correct-horse-battery", device_id="tablet")
    other = await connect(other_device)
    third = await other.request("msg.send", to=bob, client_msg_id="dup", content=text("once"))
    assert third["seq"] == first["seq"]
    marker = await a.request("msg.send", to=bob, client_msg_id="after", content=text("next"))
    assert marker["seq"] == first["seq"] + 1
    got = [(await b.next_event("msg.new"))["message"]["client_msg_id"] for _ in range(2)]
    assert got == ["dup", "after"]
    assert b.events.empty()


async def test_fifty_concurrent_sends_get_contiguous_seqs(new_user, connect) -> None:
    _, _, alice_session = await new_user()
    _, bob, bob_session = await new_user()
    senders = [await connect(alice_session) for _ in range(5)]
    b = await connect(bob_session)
    acks = await asyncio.gather(
        *(
            senders[i % 5].request("msg.send", to=bob, client_msg_id=f"c{i}", content=text(str(i)))
            for i in range(50)
        )
    )
    assert sorted(ack["seq"] for ack in acks) == list(range(1, 51))
    delivered = [(await b.next_event("msg.new"))["message"]["seq"] for _ in range(50)]
    assert sorted(delivered) == list(range(1, 51))
    # The alice sockets that did not send a message see it as a copy, never their own.
    for index, conn in enumerate(senders):
        copies = []
        while not conn.events.empty():
            copies.append(conn.events.get_nowait()["message"]["client_msg_id"])
        own = {f"c{i}" for i in range(50) if i % 5 == index}
        assert not own & set(copies)


async def test_offline_recipient_syncs_every_missed_message_in_order(
    new_user, connect, client
) -> None:
    _, alice, alice_session = await new_user()
    bob_name, bob, _ = await new_user()
    _, carol, carol_session = await new_user()
    a = await connect(alice_session)
    c = await connect(carol_session)
    for i in range(7):
        await a.request("msg.send", to=bob, client_msg_id=f"a{i}", content=text(f"a{i}"))
    for i in range(4):
        await c.request("msg.send", to=bob, client_msg_id=f"c{i}", content=text(f"c{i}"))
    bob_session = await client.login(bob_name, "correct-horse-battery")
    b = await connect(bob_session)
    seen: dict[str, list[int]] = {}
    cursors: dict[str, int] = {}
    while True:
        page = await b.request("sync", cursors=cursors, limit=3)
        assert len(page["messages"]) <= 3
        for message in page["messages"]:
            seen.setdefault(message["conversation"], []).append(message["seq"])
        cursors = page["cursors"]
        if not page["has_more"]:
            break
    assert seen == {
        direct_conversation(alice, bob): list(range(1, 8)),
        direct_conversation(carol, bob): list(range(1, 5)),
    }
    assert cursors == {direct_conversation(alice, bob): 7, direct_conversation(carol, bob): 4}
    final = await b.request("sync", cursors=cursors)
    assert final["messages"] == [] and final["has_more"] is False


async def test_history_pages_newest_first(new_user, connect) -> None:
    _, _, alice_session = await new_user()
    _, bob, _ = await new_user()
    a = await connect(alice_session)
    for i in range(12):
        ack = await a.request("msg.send", to=bob, client_msg_id=f"h{i}", content=text(str(i)))
    conversation = ack["conversation"]
    first = await a.request("msg.history", conversation=conversation, limit=5)
    assert [m["seq"] for m in first["messages"]] == [12, 11, 10, 9, 8]
    assert first["has_more"] is True
    second = await a.request("msg.history", conversation=conversation, before_seq=8, limit=5)
    assert [m["seq"] for m in second["messages"]] == [7, 6, 5, 4, 3]
    last = await a.request("msg.history", conversation=conversation, before_seq=3, limit=5)
    assert [m["seq"] for m in last["messages"]] == [2, 1]
    assert last["has_more"] is False
    default = await a.request("msg.history", conversation=conversation)
    assert len(default["messages"]) == 12
    for bad in ({"before_seq": 0}, {"limit": 0}, {"limit": "5"}, {}):
        fields = {"conversation": conversation, **bad} if bad else {}
        reply = await a.request_raw("msg.history", **fields)
        assert reply["code"] == "bad_request", bad


async def test_copies_reach_the_senders_other_devices_but_not_the_sending_socket(
    new_user, connect, client
) -> None:
    alice_name, _, phone = await new_user(platform="ios", device_id="phone")
    laptop = await client.login(alice_name, "correct-horse-battery", device_id="laptop")
    _, bob, bob_session = await new_user()
    p = await connect(phone)
    lap = await connect(laptop)
    b = await connect(bob_session)
    ack = await p.request("msg.send", to=bob, client_msg_id="md", content=text("multi"))
    copy = await lap.next_event("msg.new")
    assert copy["message"]["seq"] == ack["seq"]
    assert copy["message"]["sender_device"] == "phone"
    assert (await b.next_event("msg.new"))["message"]["seq"] == ack["seq"]
    await p.request("ping")  # anything queued for the phone has arrived by now
    assert p.events.empty()


async def test_conv_list_is_newest_first_with_unread_counts(new_user, connect) -> None:
    _, alice, alice_session = await new_user()
    _, bob, bob_session = await new_user()
    _, carol, carol_session = await new_user()
    a = await connect(alice_session)
    await (await connect(bob_session)).request(
        "msg.send", to=alice, client_msg_id="b1", content=text("from bob")
    )
    c = await connect(carol_session)
    await c.request("msg.send", to=alice, client_msg_id="c1", content=text("from carol"))
    await c.request("msg.send", to=alice, client_msg_id="c2", content=text("again"))
    await a.request("msg.send", to=carol, client_msg_id="a1", content=text("mine"))
    listed = (await a.request("conv.list"))["conversations"]
    assert [e["conversation"] for e in listed] == [
        direct_conversation(alice, carol),
        direct_conversation(alice, bob),
    ]
    carol_entry, bob_entry = listed
    assert (carol_entry["last_seq"], carol_entry["unread"], carol_entry["read_seq"]) == (3, 2, 0)
    assert carol_entry["last_message"]["content"] == text("mine")
    assert (bob_entry["last_seq"], bob_entry["unread"]) == (1, 1)


async def test_errors_of_one_request_do_not_disturb_the_next(new_user, connect) -> None:
    _, _, session = await new_user()
    conn = await connect(session)
    with pytest.raises(ClientError) as error:
        await conn.request("sync", cursors={"d:a:b": -1})
    assert error.value.code == "bad_request"
    assert (await conn.request("sync", cursors={}))["type"] == "sync.result"
