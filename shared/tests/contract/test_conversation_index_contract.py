"""ConversationIndex contract: per-user lists, newest first, replays harmless."""

from __future__ import annotations

import asyncio

import pytest

from imfaas.shared.ports.conversation_index import ConversationEntry

AB = "d:alice:bob"
AC = "d:alice:carol"
GROUP = "g:team"


@pytest.fixture
async def index(open_port):
    return await open_port("conversations")


async def test_record_message_creates_an_entry_for_every_member(index):
    await index.record_message(AB, ["alice", "bob"], 1, 1000)

    expected = ConversationEntry(AB, last_seq=1, last_ts=1000, read_seq=0)
    assert await index.list_for_user("alice", 10) == [expected]
    assert await index.list_for_user("bob", 10) == [expected]
    assert await index.list_for_user("carol", 10) == []


async def test_record_message_is_idempotent(index):
    await index.record_message(AB, ["alice", "bob"], 3, 3000)
    once = await index.list_for_user("alice", 10)

    await index.record_message(AB, ["alice", "bob"], 3, 3000)
    await index.record_message(AB, ["alice", "bob"], 3, 3000)

    assert await index.list_for_user("alice", 10) == once
    assert len(once) == 1


async def test_last_seq_moves_forward(index):
    await index.record_message(AB, ["alice", "bob"], 1, 1000)
    await index.record_message(AB, ["alice", "bob"], 2, 2000)

    assert (await index.get_entries("bob", [AB]))[AB].last_seq == 2


async def test_replay_of_an_older_message_never_moves_last_seq_back(index):
    await index.record_message(AB, ["alice", "bob"], 5, 5000)

    await index.record_message(AB, ["alice", "bob"], 2, 2000)

    entry = (await index.get_entries("alice", [AB]))[AB]
    assert entry.last_seq == 5


async def test_list_is_newest_activity_first_and_limited(index):
    await index.record_message(AB, ["alice", "bob"], 1, 1000)
    await index.record_message(GROUP, ["alice", "bob", "carol"], 1, 3000)
    await index.record_message(AC, ["alice", "carol"], 1, 2000)

    assert [e.conversation for e in await index.list_for_user("alice", 10)] == [GROUP, AC, AB]
    assert [e.conversation for e in await index.list_for_user("alice", 2)] == [GROUP, AC]
    assert [e.conversation for e in await index.list_for_user("carol", 10)] == [GROUP, AC]

    await index.record_message(AB, ["alice", "bob"], 2, 4000)

    assert [e.conversation for e in await index.list_for_user("alice", 10)] == [AB, GROUP, AC]


async def test_list_without_limit_returns_every_conversation(index):
    for n in range(30):
        await index.record_message(f"g:group-{n}", ["alice"], 1, 1000 + n)

    entries = await index.list_for_user("alice", None)

    assert [e.conversation for e in entries] == [f"g:group-{n}" for n in range(29, -1, -1)]


async def test_replay_does_not_reorder_the_list(index):
    await index.record_message(AB, ["alice", "bob"], 5, 5000)
    await index.record_message(AC, ["alice", "carol"], 1, 3000)

    await index.record_message(AB, ["alice", "bob"], 1, 1000)  # a late replay of AB seq 1

    assert [e.conversation for e in await index.list_for_user("alice", 10)] == [AB, AC]


async def test_get_entries_returns_only_existing_requested_entries(index):
    await index.record_message(AB, ["alice", "bob"], 4, 4000)
    await index.record_message(AC, ["alice", "carol"], 2, 2000)
    await index.record_message(GROUP, ["bob"], 1, 1000)

    entries = await index.get_entries("alice", [AB, GROUP, "d:alice:zed"])

    assert entries == {AB: ConversationEntry(AB, 4, 4000, 0)}
    assert await index.get_entries("alice", []) == {}
    assert await index.get_entries("nobody", [AB]) == {}


async def test_entries_survive_closing_and_reopening(open_port):
    index = await open_port("conversations")
    await index.record_message(AB, ["alice", "bob"], 7, 7000)
    await open_port.close()

    reopened = await open_port("conversations")

    assert await reopened.list_for_user("bob", 10) == [ConversationEntry(AB, 7, 7000, 0)]


# -- read marks -------------------------------------------------------------------------


async def test_set_read_raises_the_readers_mark_only(index):
    await index.record_message(AB, ["alice", "bob"], 5, 5000)

    assert await index.set_read("alice", AB, 3) == 3

    assert (await index.get_entries("alice", [AB]))[AB].read_seq == 3
    assert (await index.get_entries("bob", [AB]))[AB].read_seq == 0
    assert await index.list_for_user("alice", 10) == [ConversationEntry(AB, 5, 5000, 3)]


async def test_set_read_never_lowers_the_mark(index):
    await index.record_message(AB, ["alice", "bob"], 5, 5000)
    await index.set_read("alice", AB, 4)

    assert await index.set_read("alice", AB, 2) == 4
    assert await index.set_read("alice", AB, 4) == 4
    assert (await index.get_entries("alice", [AB]))[AB].read_seq == 4


async def test_set_read_without_an_entry_creates_nothing(index):
    await index.record_message(AB, ["alice", "bob"], 1, 1000)

    assert await index.set_read("carol", AB, 1) is None
    assert await index.set_read("alice", AC, 1) is None

    assert await index.list_for_user("carol", 10) == []
    assert [e.conversation for e in await index.list_for_user("alice", 10)] == [AB]


async def test_new_messages_keep_the_read_mark(index):
    await index.record_message(AB, ["alice", "bob"], 2, 2000)
    await index.set_read("bob", AB, 2)

    await index.record_message(AB, ["alice", "bob"], 3, 3000)

    assert (await index.get_entries("bob", [AB]))[AB] == ConversationEntry(AB, 3, 3000, 2)


async def test_concurrent_marks_keep_the_highest(index):
    await index.record_message(AB, ["alice", "bob"], 20, 2000)

    await asyncio.gather(*(index.set_read("alice", AB, seq) for seq in range(1, 21)))

    assert (await index.get_entries("alice", [AB]))[AB].read_seq == 20


async def test_read_marks_survive_closing_and_reopening(open_port):
    index = await open_port("conversations")
    await index.record_message(AB, ["alice", "bob"], 7, 7000)
    await index.set_read("bob", AB, 6)
    await open_port.close()

    reopened = await open_port("conversations")

    assert await reopened.list_for_user("bob", 10) == [ConversationEntry(AB, 7, 7000, 6)]


async def test_group_activity_is_one_row_that_only_moves_forward(index):
    await index.record_activity(GROUP, 2, 2000)
    await index.record_activity(GROUP, 5, 5000)
    await index.record_activity(GROUP, 3, 3000)  # a replay of an older message

    assert await index.activity([GROUP, AB]) == {GROUP: (5, 5000)}
    assert await index.activity([]) == {}
    # Nobody's list gets a row from group activity.
    assert await index.list_for_user("alice", None) == []


async def test_ensure_entry_adds_a_zero_row_once_and_keeps_a_read_mark(index):
    await index.ensure_entry("alice", GROUP)
    assert await index.get_entries("alice", [GROUP]) == {
        GROUP: ConversationEntry(GROUP, last_seq=0, last_ts=0, read_seq=0)
    }
    assert await index.set_read("alice", GROUP, 4) == 4

    await index.ensure_entry("alice", GROUP)

    assert (await index.get_entries("alice", [GROUP]))[GROUP].read_seq == 4
    assert await index.get_entries("bob", [GROUP]) == {}
