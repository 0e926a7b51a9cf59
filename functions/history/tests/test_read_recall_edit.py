"""msg.read, msg.recall and msg.edit (protocol §3): the stored change, the events, the refusals."""

from __future__ import annotations

import pytest

from imfaas.events import catalog

AB, AC = "d:ua:ub", "d:ua:uc"
WINDOW_S = 120


def assert_error(reply, code: str) -> None:
    assert (reply["type"], reply["code"], reply["id"]) == ("error", code, "q1")
    assert reply["message"]


def notified(env) -> list[tuple[dict, str]]:
    """(event data, partition key) of every users.notified published so far."""
    return [
        (event.get_data(), key)
        for event, key in env.bus.published
        if event["type"] == catalog.USERS_NOTIFIED
    ]


async def snapshot(env, conversation: str = AB) -> tuple:
    """What a refused request must leave unchanged: messages, both lists, events."""
    history = await env.ask("ua", {"type": "msg.history", "conversation": conversation})
    lists = [(await env.ask(u, {"type": "conv.list"}))["conversations"] for u in ("ua", "ub")]
    return history["messages"], lists, len(env.bus.published)


async def conversation_row(env, user: str, conversation: str = AB) -> dict:
    listed = (await env.ask(user, {"type": "conv.list"}))["conversations"]
    return next(c for c in listed if c["conversation"] == conversation)


# -- msg.read -----------------------------------------------------------------------------


async def test_read_stores_the_mark_and_drops_unread(env):
    for sender in ("ub", "ub", "ua", "ub"):
        await env.post(AB, sender)
    assert (await conversation_row(env, "ua"))["unread"] == 3

    reply = await env.ask("ua", {"type": "msg.read", "conversation": AB, "seq": 2})

    assert reply == {"type": "msg.read.ok", "id": "q1"}
    row = await conversation_row(env, "ua")
    assert (row["read_seq"], row["unread"], row["last_seq"]) == (2, 1, 4)
    assert (await conversation_row(env, "ub"))["read_seq"] == 0
    await env.ask("ua", {"type": "msg.read", "conversation": AB, "seq": 4})
    assert (await conversation_row(env, "ua"))["unread"] == 0


async def test_read_sends_a_receipt_to_every_member_but_the_reading_socket(env):
    await env.post(AB, "ub")
    await env.ask("ua", {"type": "msg.read", "conversation": AB, "seq": 1}, conn="c7")

    [(data, key)] = notified(env)
    assert key == AB
    assert sorted(data["users"]) == ["ua", "ub"]  # ua: the reader's other devices
    assert data["frame"] == {"type": "receipt", "conversation": AB, "user": "ua", "seq": 1}
    assert data["skip"] == {"node": "gw-test", "conn": "c7"}


async def test_read_never_lowers_the_mark_and_the_receipt_tells_the_mark(env):
    for _ in range(3):
        await env.post(AB, "ub")
    await env.ask("ua", {"type": "msg.read", "conversation": AB, "seq": 3})

    reply = await env.ask("ua", {"type": "msg.read", "conversation": AB, "seq": 1})

    assert reply["type"] == "msg.read.ok"
    assert (await conversation_row(env, "ua"))["read_seq"] == 3
    assert notified(env)[-1][0]["frame"]["seq"] == 3


async def test_read_beyond_the_last_seq_is_refused_and_changes_nothing(env):
    await env.post(AB, "ub")
    before = await snapshot(env)

    assert_error(
        await env.ask("ua", {"type": "msg.read", "conversation": AB, "seq": 2}), "bad_request"
    )
    # No message yet in AC: nothing can be read there.
    assert_error(
        await env.ask("ua", {"type": "msg.read", "conversation": AC, "seq": 1}), "bad_request"
    )

    assert await snapshot(env) == before


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ({"conversation": "d:ub:uc", "seq": 1}, "forbidden"),
        ({"conversation": "g:nogroup", "seq": 1}, "not_found"),
        ({"seq": 1}, "bad_request"),
        ({"conversation": "x:1", "seq": 1}, "bad_request"),
        ({"conversation": AB}, "bad_request"),
        ({"conversation": AB, "seq": 0}, "bad_request"),
        ({"conversation": AB, "seq": "1"}, "bad_request"),
        ({"conversation": AB, "seq": True}, "bad_request"),
        ({"conversation": AB, "seq": 1.0}, "bad_request"),
        ({"conversation": AB, "seq": 2**63}, "bad_request"),
    ],
)
@pytest.mark.parametrize("frame_type", ["msg.read", "msg.recall"])
async def test_bad_positions_are_refused_and_change_nothing(env, frame_type, frame, code):
    await env.post(AB, "ua")
    await env.post("d:ub:uc", "ub")
    before = await snapshot(env)

    assert_error(await env.ask("ua", {"type": frame_type, **frame}), code)

    assert await snapshot(env) == before


# -- msg.recall ---------------------------------------------------------------------------


def recall(seq: int) -> dict:
    return {"type": "msg.recall", "conversation": AB, "seq": seq}


async def test_sender_recalls_within_the_window(env):
    first = await env.post(AB, "ua", text="oops")
    await env.post(AB, "ub")
    env.clock.now = first["ts"] / 1000 + WINDOW_S

    reply = await env.ask("ua", recall(1), conn="c3")

    assert reply == {"type": "msg.recall.ok", "id": "q1"}
    [(data, key)] = notified(env)
    assert key == AB and sorted(data["users"]) == ["ua", "ub"]
    assert data["frame"] == {"type": "msg.recalled", "conversation": AB, "seq": 1}
    assert data["skip"] == {"node": "gw-test", "conn": "c3"}
    expected = {k: v for k, v in first.items() if k != "content"} | {"recalled": True}
    history = await env.ask("ub", {"type": "msg.history", "conversation": AB})
    assert history["messages"][1] == expected
    synced = await env.ask("ub", {"type": "sync"})
    assert [m["seq"] for m in synced["messages"]] == [1, 2]
    assert synced["messages"][0] == expected


async def test_recalled_last_message_and_unread(env):
    await env.post(AB, "ua")
    await env.post(AB, "ua", text="take back")
    assert (await conversation_row(env, "ub"))["unread"] == 2

    await env.ask("ua", recall(2))

    row = await conversation_row(env, "ub")
    assert row["unread"] == 1
    assert row["last_seq"] == 2
    assert row["last_message"]["recalled"] is True and "content" not in row["last_message"]


async def test_recall_after_the_window_is_forbidden(env):
    message = await env.post(AB, "ua")
    env.clock.now = message["ts"] / 1000 + WINDOW_S + 1
    before = await snapshot(env)

    assert_error(await env.ask("ua", recall(1)), "forbidden")

    assert await snapshot(env) == before


async def test_the_window_comes_from_settings(make_history):
    env = await make_history(recall_window_s=5)
    message = await env.post(AB, "ua")
    env.clock.now = message["ts"] / 1000 + 6

    assert_error(await env.ask("ua", recall(1)), "forbidden")
    env.clock.now -= 2
    assert (await env.ask("ua", recall(1)))["type"] == "msg.recall.ok"


@pytest.mark.parametrize(
    ("user", "seq", "code"),
    [("ub", 1, "forbidden"), ("ua", 2, "not_found")],
    ids=["not-the-sender", "unknown-seq"],
)
async def test_refused_recalls_change_nothing(env, user, seq, code):
    await env.post(AB, "ua")
    before = await snapshot(env)

    assert_error(await env.ask(user, recall(seq)), code)

    assert await snapshot(env) == before


async def test_a_repeated_recall_succeeds_even_after_the_window(env):
    message = await env.post(AB, "ua")
    await env.ask("ua", recall(1))
    env.clock.now = message["ts"] / 1000 + WINDOW_S * 10

    reply = await env.ask("ua", recall(1))

    assert reply["type"] == "msg.recall.ok"
    assert len(notified(env)) == 2  # the event again, in case the first was lost
    assert_error(await env.ask("ub", recall(1)), "forbidden")


# -- msg.edit -----------------------------------------------------------------------------

NEW = {"kind": "text", "text": "fixed"}


def edit(seq: int = 1, content=NEW, conversation: str = AB) -> dict:
    return {"type": "msg.edit", "conversation": conversation, "seq": seq, "content": content}


async def test_sender_edits_and_members_get_the_new_content(env):
    original = await env.post(AB, "ua", text="fxied")

    reply = await env.ask("ua", edit(), conn="c4")

    assert reply == {"type": "msg.edit.ok", "id": "q1"}
    [(data, key)] = notified(env)
    assert key == AB and sorted(data["users"]) == ["ua", "ub"]
    assert data["frame"] == {"type": "msg.edited", "conversation": AB, "seq": 1, "content": NEW}
    assert data["skip"] == {"node": "gw-test", "conn": "c4"}
    expected = original | {"content": NEW, "edited": True}
    assert (await env.ask("ub", {"type": "sync"}))["messages"] == [expected]
    history = await env.ask("ub", {"type": "msg.history", "conversation": AB})
    assert history["messages"] == [expected]
    assert (await conversation_row(env, "ub"))["last_message"] == expected


async def test_cipher_edits_keep_every_field(env):
    cipher = {"kind": "cipher", "alg": "x25519", "ciphertext": "AAAA"}
    message = await env.post(AB, "ua")
    await env.ports.messages.edit(AB, message["seq"], cipher)  # a cipher message, stored
    updated = {**cipher, "ciphertext": "BBBB", "header": {"n": 2}}

    assert (await env.ask("ua", edit(content=updated)))["type"] == "msg.edit.ok"

    assert (await env.ports.messages.get(AB, 1)).content == updated


@pytest.mark.parametrize(
    ("stored", "content"),
    [
        ({"kind": "text", "text": "hi"}, {"kind": "cipher", "alg": "a", "ciphertext": "Zm9v"}),
        ({"kind": "cipher", "alg": "a", "ciphertext": "Zm9v"}, {"kind": "text", "text": "hi"}),
        (
            {"kind": "file", "object_key": "o/1", "name": "a.png", "size": 3, "mime": "image/png"},
            {"kind": "file", "object_key": "o/2", "name": "b.png", "size": 3, "mime": "image/png"},
        ),
    ],
    ids=["text-to-cipher", "cipher-to-text", "file"],
)
async def test_edits_keep_the_kind_and_never_touch_files(env, stored, content):
    await env.post(AB, "ua")
    await env.ports.messages.edit(AB, 1, stored)
    before = await snapshot(env)

    assert_error(await env.ask("ua", edit(content=content)), "bad_request")

    assert await snapshot(env) == before


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (None, "bad_request"),
        ("plain", "bad_request"),
        ({"kind": "gif"}, "bad_request"),
        ({"kind": "text", "text": ""}, "bad_request"),
        ({"kind": "text", "text": "é" * 9000}, "too_large"),
    ],
)
async def test_invalid_content_is_refused_like_a_send(env, content, code):
    await env.post(AB, "ua")
    before = await snapshot(env)

    assert_error(await env.ask("ua", edit(content=content)), code)

    assert await snapshot(env) == before


@pytest.mark.parametrize(
    ("user", "frame", "code"),
    [
        ("ub", edit(), "forbidden"),
        ("uc", edit(), "forbidden"),
        ("ua", edit(seq=9), "not_found"),
        ("ua", edit(conversation="g:nogroup"), "not_found"),
        ("ua", {k: v for k, v in edit().items() if k != "seq"}, "bad_request"),
    ],
    ids=["other-member", "non-member", "unknown-seq", "unknown-group", "no-seq"],
)
async def test_refused_edits_change_nothing(env, user, frame, code):
    await env.post(AB, "ua")
    before = await snapshot(env)

    assert_error(await env.ask(user, frame), code)

    assert await snapshot(env) == before


async def test_a_recalled_message_cannot_be_edited(env):
    await env.post(AB, "ua")
    await env.ask("ua", recall(1))
    before = await snapshot(env)

    assert_error(await env.ask("ua", edit()), "forbidden")

    assert await snapshot(env) == before
    assert (await env.ports.messages.get(AB, 1)).content is None
