"""sync, msg.history and conv.list (protocol §3)."""

from __future__ import annotations

import pytest

AB, AC, BC = "d:ua:ub", "d:ua:uc", "d:ub:uc"


def assert_error(reply, code: str, request_id: str = "q1") -> None:
    assert reply["type"] == "error"
    assert reply["code"] == code
    assert reply["id"] == request_id
    assert reply["message"]


def seqs(messages, conversation: str | None = None) -> list[int]:
    return [m["seq"] for m in messages if conversation is None or m["conversation"] == conversation]


# -- sync -------------------------------------------------------------------------------


async def test_sync_without_cursors_returns_everything_ascending_per_conversation(env):
    posted = [
        await env.post(AB, "ua"),
        await env.post(AC, "uc"),
        await env.post(AB, "ub"),
        await env.post(AB, "ua"),
        await env.post(AC, "ua"),
    ]
    reply = await env.ask("ua", {"type": "sync"})
    assert reply["type"] == "sync.result"
    assert reply["id"] == "q1"
    assert reply["has_more"] is False
    assert seqs(reply["messages"], AB) == [1, 2, 3]
    assert seqs(reply["messages"], AC) == [1, 2]
    assert len(reply["messages"]) == 5
    assert sorted(reply["messages"], key=lambda m: (m["conversation"], m["seq"])) == sorted(
        posted, key=lambda m: (m["conversation"], m["seq"])
    )
    assert reply["cursors"] == {AB: 3, AC: 2}


async def test_sync_returns_only_the_users_conversations(env):
    await env.post(AB, "ua")
    await env.post(AC, "ua")
    await env.post(BC, "ub")
    reply = await env.ask("uc", {"type": "sync", "cursors": {}})
    assert {m["conversation"] for m in reply["messages"]} == {AC, BC}
    assert reply["cursors"] == {AC: 1, BC: 1}


async def test_sync_continues_after_the_cursors(env):
    for _ in range(3):
        await env.post(AB, "ua")
    await env.post(AC, "uc")
    reply = await env.ask("ua", {"type": "sync", "cursors": {AB: 2}})
    assert [(m["conversation"], m["seq"]) for m in reply["messages"]] in (
        [(AB, 3), (AC, 1)],
        [(AC, 1), (AB, 3)],
    )
    assert reply["cursors"] == {AB: 3, AC: 1}
    assert reply["has_more"] is False


async def test_sync_when_up_to_date_returns_nothing_and_keeps_the_cursors(env):
    await env.post(AB, "ua")
    await env.post(AB, "ub")
    reply = await env.ask("ua", {"type": "sync", "cursors": {AB: 2, AC: 0}})
    assert reply["messages"] == []
    assert reply["cursors"] == {AB: 2, AC: 0}
    assert reply["has_more"] is False


async def test_sync_pages_with_has_more_without_gaps_or_repeats(env):
    expected = set()
    for n in range(7):
        conversation = (AB, AC)[n % 3 == 0]
        message = await env.post(conversation, ("ua", "ub" if conversation == AB else "uc")[n % 2])
        expected.add((message["conversation"], message["seq"]))
    cursors: dict[str, int] = {}
    seen: list[tuple[str, int]] = []
    pages = 0
    while True:
        reply = await env.ask("ua", {"type": "sync", "cursors": cursors, "limit": 3})
        pages += 1
        assert len(reply["messages"]) <= 3
        seen.extend((m["conversation"], m["seq"]) for m in reply["messages"])
        for conversation in (AB, AC):
            got = seqs(reply["messages"], conversation)
            assert got == sorted(got)
            if got:
                assert got[0] == cursors.get(conversation, 0) + 1  # no gap
                assert reply["cursors"][conversation] == got[-1]
        cursors = reply["cursors"]
        if not reply["has_more"]:
            break
        assert reply["messages"], "has_more with an empty page"
        assert pages < 10
    assert pages == 3
    assert len(seen) == len(set(seen)) == 7
    assert set(seen) == expected


async def test_sync_with_limit_equal_to_the_backlog_has_no_more(env):
    for _ in range(3):
        await env.post(AB, "ua")
    reply = await env.ask("ua", {"type": "sync", "limit": 3})
    assert seqs(reply["messages"]) == [1, 2, 3]
    assert reply["has_more"] is False


async def test_sync_first_page_reports_has_more(env):
    for _ in range(3):
        await env.post(AB, "ub")
    reply = await env.ask("ua", {"type": "sync", "limit": 2})
    assert seqs(reply["messages"]) == [1, 2]
    assert reply["has_more"] is True
    assert reply["cursors"] == {AB: 2}


async def test_sync_default_limit_comes_from_settings(make_history):
    env = await make_history(sync_default_limit=2)
    for _ in range(3):
        await env.post(AB, "ua")
    reply = await env.ask("ua", {"type": "sync"})
    assert seqs(reply["messages"]) == [1, 2]
    assert reply["has_more"] is True


async def test_sync_cursor_for_a_conversation_of_others_is_forbidden(env):
    await env.post(BC, "ub")
    reply = await env.ask("ua", {"type": "sync", "cursors": {BC: 0}})
    assert_error(reply, "forbidden")


async def test_sync_cursor_for_an_unknown_group_comes_back_as_gone(env):
    await env.post(AB, "ua")
    reply = await env.ask("ua", {"type": "sync", "cursors": {"g:nope": 3}})

    assert reply["type"] == "sync.result"
    assert reply["gone"] == ["g:nope"]
    assert reply["cursors"] == {"g:nope": 3, AB: 1}
    assert [m["conversation"] for m in reply["messages"]] == [AB]


@pytest.mark.parametrize(
    "cursor", [-1, "3", True, 1.5, None], ids=["negative", "string", "bool", "float", "null"]
)
async def test_sync_bad_cursor_value_is_bad_request(env, cursor):
    await env.post(AB, "ua")
    assert_error(await env.ask("ua", {"type": "sync", "cursors": {AB: cursor}}), "bad_request")


@pytest.mark.parametrize("cursors", [[AB], "d:ua:ub", 3, {"x:1": 0}, {"d:ub:ua": 0}])
async def test_sync_bad_cursors_are_bad_request(env, cursors):
    assert_error(await env.ask("ua", {"type": "sync", "cursors": cursors}), "bad_request")


@pytest.mark.parametrize("limit", [0, -1, 1001, "10", True, 2.5])
async def test_sync_bad_limit_is_bad_request(env, limit):
    await env.post(AB, "ua")
    assert_error(await env.ask("ua", {"type": "sync", "limit": limit}), "bad_request")


async def test_sync_returns_every_conversation_even_beyond_the_conv_list_page(make_history):
    # Protocol §3: sync returns every message of every conversation the user belongs to
    # (repeating while has_more); the size of a conv.list page must not hide any.
    env = await make_history(conv_list_max=1)
    await env.post(AB, "ub")
    await env.post(AC, "uc")
    cursors: dict[str, int] = {}
    seen = []
    for _ in range(5):
        reply = await env.ask("ua", {"type": "sync", "cursors": cursors})
        seen.extend((m["conversation"], m["seq"]) for m in reply["messages"])
        cursors = reply["cursors"]
        if not reply["has_more"]:
            break
    assert sorted(seen) == [(AB, 1), (AC, 1)]


async def test_reused_client_msg_id_does_not_leak_a_conversation_to_an_outsider(env):
    # ua reuses a client_msg_id in another conversation (dedup returns the first message).
    await env.post(AB, "ub", text="for ua only")
    await env.post(AB, "ua", client_msg_id="same")
    await env.post(AC, "ua", client_msg_id="same")
    synced = await env.ask("uc", {"type": "sync"})
    assert AB not in {m["conversation"] for m in synced["messages"]}
    listed = await env.ask("uc", {"type": "conv.list"})
    assert AB not in [c["conversation"] for c in listed["conversations"]]


# -- msg.history ------------------------------------------------------------------------


async def test_history_is_newest_first(env):
    posted = [await env.post(AB, ("ua", "ub")[n % 2]) for n in range(5)]
    reply = await env.ask("ub", {"type": "msg.history", "conversation": AB})
    assert reply["type"] == "msg.history.result"
    assert reply["id"] == "q1"
    assert reply["messages"] == list(reversed(posted))
    assert reply["has_more"] is False


async def test_history_before_seq_is_exclusive(env):
    for _ in range(5):
        await env.post(AB, "ua")
    reply = await env.ask("ua", {"type": "msg.history", "conversation": AB, "before_seq": 3})
    assert seqs(reply["messages"]) == [2, 1]
    assert reply["has_more"] is False


async def test_history_pages_backwards_with_has_more(env):
    for _ in range(5):
        await env.post(AB, "ua")
    frame = {"type": "msg.history", "conversation": AB, "limit": 2}
    first = await env.ask("ua", frame)
    assert (seqs(first["messages"]), first["has_more"]) == ([5, 4], True)
    second = await env.ask("ua", {**frame, "before_seq": 4})
    assert (seqs(second["messages"]), second["has_more"]) == ([3, 2], True)
    third = await env.ask("ua", {**frame, "before_seq": 2})
    assert (seqs(third["messages"]), third["has_more"]) == ([1], False)


async def test_history_with_limit_equal_to_the_count_has_no_more(env):
    for _ in range(3):
        await env.post(AB, "ua")
    reply = await env.ask("ua", {"type": "msg.history", "conversation": AB, "limit": 3})
    assert (seqs(reply["messages"]), reply["has_more"]) == ([3, 2, 1], False)


async def test_history_before_the_first_message_is_empty(env):
    await env.post(AB, "ua")
    reply = await env.ask("ua", {"type": "msg.history", "conversation": AB, "before_seq": 1})
    assert (reply["messages"], reply["has_more"]) == ([], False)


async def test_history_of_an_empty_conversation_is_empty(env):
    reply = await env.ask("ua", {"type": "msg.history", "conversation": AC})
    assert (reply["messages"], reply["has_more"]) == ([], False)


async def test_history_default_limit_comes_from_settings(make_history):
    env = await make_history(history_default_limit=2)
    for _ in range(3):
        await env.post(AB, "ua")
    reply = await env.ask("ua", {"type": "msg.history", "conversation": AB})
    assert (seqs(reply["messages"]), reply["has_more"]) == ([3, 2], True)


async def test_history_of_a_conversation_of_others_is_forbidden(env):
    await env.post(BC, "ub")
    assert_error(await env.ask("ua", {"type": "msg.history", "conversation": BC}), "forbidden")


async def test_history_of_an_unknown_group_is_not_found(env):
    assert_error(await env.ask("ua", {"type": "msg.history", "conversation": "g:x"}), "not_found")


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"conversation": "x:1"},
        {"conversation": 5},
        {"conversation": AB, "before_seq": 0},
        {"conversation": AB, "before_seq": -3},
        {"conversation": AB, "before_seq": "3"},
        {"conversation": AB, "before_seq": True},
        {"conversation": AB, "before_seq": 2**63},  # found by the property tests: was internal
        {"conversation": AB, "before_seq": 10**30},
        {"conversation": AB, "limit": 0},
        {"conversation": AB, "limit": 201},
        {"conversation": AB, "limit": True},
    ],
    ids=[
        "no-conversation",
        "bad-conversation",
        "conversation-int",
        "before-0",
        "before-negative",
        "before-string",
        "before-bool",
        "before-over-64-bits",
        "before-huge",
        "limit-0",
        "limit-too-big",
        "limit-bool",
    ],
)
async def test_history_bad_request(env, extra):
    await env.post(AB, "ua")
    assert_error(await env.ask("ua", {"type": "msg.history", **extra}), "bad_request")


# -- conv.list --------------------------------------------------------------------------


async def test_conv_list_is_newest_activity_first(env):
    await env.post(AB, "ua")
    await env.post(AC, "ua")
    await env.post(AB, "ub")
    reply = await env.ask("ua", {"type": "conv.list"})
    assert reply["type"] == "conv.list.result"
    assert reply["id"] == "q1"
    assert [c["conversation"] for c in reply["conversations"]] == [AB, AC]
    await env.post(AC, "uc")
    reply = await env.ask("ua", {"type": "conv.list"})
    assert [c["conversation"] for c in reply["conversations"]] == [AC, AB]


async def test_conv_list_counts_only_other_senders_as_unread(env):
    for sender in ("ua", "ub", "ub", "ua", "ub"):
        await env.post(AB, sender)
    for user, unread in (("ua", 3), ("ub", 2)):
        (entry,) = (await env.ask(user, {"type": "conv.list"}))["conversations"]
        assert set(entry) == {"conversation", "last_seq", "read_seq", "unread", "last_message"}
        assert entry["conversation"] == AB
        assert entry["last_seq"] == 5
        assert entry["read_seq"] == 0
        assert entry["unread"] == unread


async def test_conv_list_last_message_is_the_newest(env):
    await env.post(AB, "ua", text="first")
    last = await env.post(AB, "ub", text="latest")
    await env.post(AC, "ua", text="elsewhere")
    reply = await env.ask("ua", {"type": "conv.list"})
    by_id = {c["conversation"]: c for c in reply["conversations"]}
    assert by_id[AB]["last_message"] == last
    assert by_id[AB]["last_message"]["content"]["text"] == "latest"
    assert by_id[AC]["last_message"]["content"]["text"] == "elsewhere"


async def test_conv_list_of_a_user_without_conversations_is_empty(env):
    await env.post(AB, "ua")
    reply = await env.ask("uc", {"type": "conv.list"})
    assert reply["conversations"] == []
