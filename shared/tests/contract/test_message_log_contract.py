"""MessageLog contract: gap-free seq per conversation, dedup on (sender, client_msg_id), reads."""

from __future__ import annotations

import asyncio

import pytest

from imfaas.shared.message import MessageDraft

CONV = "d:alice:bob"
OTHER = "g:team"
T0 = 1_700_000_000_000
WEEK_MS = 7 * 24 * 3600 * 1000


def draft(
    client_msg_id: str,
    sender: str = "alice",
    conversation: str = CONV,
    text: str | None = None,
    ts: int = T0,
    submission_id: str = "",
) -> MessageDraft:
    return MessageDraft(
        conversation=conversation,
        sender=sender,
        sender_device="d1",
        client_msg_id=client_msg_id,
        content={"kind": "text", "text": text if text is not None else f"text {client_msg_id}"},
        ts=ts,
        submission_id=submission_id,
    )


@pytest.fixture
async def log(open_port):
    return await open_port("messages")


async def append_many(log, n: int, conversation: str = CONV, sender: str = "alice") -> None:
    for i in range(1, n + 1):
        await log.append(draft(f"{conversation}-{sender}-{i}", sender, conversation), WEEK_MS)


async def test_first_message_has_seq_1_and_keeps_the_draft(log):
    result = await log.append(draft("c1", text="hello"), WEEK_MS)

    message = result.message
    assert result.duplicate is False
    assert message.seq == 1
    assert (message.conversation, message.sender, message.sender_device) == (CONV, "alice", "d1")
    assert message.client_msg_id == "c1"
    assert message.ts == T0
    assert message.content == {"kind": "text", "text": "hello"}
    assert message.msg_id


async def test_seqs_are_1_to_n_without_gaps_per_conversation(log):
    seqs = [(await log.append(draft(f"c{i}"), WEEK_MS)).message.seq for i in range(10)]
    other = [
        (await log.append(draft(f"o{i}", conversation=OTHER), WEEK_MS)).message.seq
        for i in range(3)
    ]

    assert seqs == list(range(1, 11))
    assert other == [1, 2, 3]


async def test_msg_ids_are_distinct(log):
    await append_many(log, 5)
    await append_many(log, 5, conversation=OTHER)

    ids = [m.msg_id for m in await log.read_after(CONV, 0, 10)]
    ids += [m.msg_id for m in await log.read_after(OTHER, 0, 10)]
    assert len(set(ids)) == 10


async def test_resend_returns_the_original_as_duplicate_and_consumes_no_seq(log):
    original = (await log.append(draft("c1", text="first"), WEEK_MS)).message

    again = await log.append(draft("c1", text="edited resend", ts=T0 + 5000), WEEK_MS)
    nxt = await log.append(draft("c2"), WEEK_MS)

    assert again.duplicate is True
    assert again.message == original
    assert nxt.message.seq == 2
    assert [m.client_msg_id for m in await log.read_after(CONV, 0, 10)] == ["c1", "c2"]


async def test_redelivery_of_the_storing_submission_is_not_a_duplicate(log):
    original = (await log.append(draft("c1", submission_id="ev-1"), WEEK_MS)).message

    redelivery = await log.append(draft("c1", text="x", submission_id="ev-1"), WEEK_MS)

    assert redelivery.duplicate is False
    assert redelivery.message == original
    # Nothing was written: the next message still gets seq 2.
    assert (await log.append(draft("c2", submission_id="ev-2"), WEEK_MS)).message.seq == 2
    assert len(await log.read_after(CONV, 0, 10)) == 2


async def test_resend_in_a_new_submission_is_a_duplicate(log):
    original = (await log.append(draft("c1", submission_id="ev-1"), WEEK_MS)).message

    resend = await log.append(draft("c1", submission_id="ev-2"), WEEK_MS)
    anonymous = await log.append(draft("c1"), WEEK_MS)

    assert resend.duplicate is True and resend.message == original
    assert anonymous.duplicate is True and anonymous.message == original


async def test_drafts_without_submission_id_are_duplicates_of_each_other(log):
    await log.append(draft("c1"), WEEK_MS)

    assert (await log.append(draft("c1"), WEEK_MS)).duplicate is True


async def test_dedup_is_keyed_on_sender_and_client_msg_id_across_conversations(log):
    original = (await log.append(draft("c1"), WEEK_MS)).message

    resend = await log.append(draft("c1", conversation=OTHER), WEEK_MS)

    assert resend.duplicate is True
    assert resend.message == original
    assert await log.read_after(OTHER, 0, 10) == []


async def test_same_client_msg_id_from_another_sender_is_a_new_message(log):
    await log.append(draft("c1", sender="alice"), WEEK_MS)

    result = await log.append(draft("c1", sender="bob"), WEEK_MS)

    assert result.duplicate is False
    assert result.message.seq == 2
    assert result.message.sender == "bob"


async def test_dedup_holds_within_ttl_and_expires_after_it(log):
    await log.append(draft("c1", ts=T0), 1000)

    within = await log.append(draft("c1", ts=T0 + 500), 1000)
    after = await log.append(draft("c1", text="later", ts=T0 + 1500), 1000)
    again = await log.append(draft("c1", ts=T0 + 1600), 1000)

    assert within.duplicate is True and within.message.seq == 1
    assert after.duplicate is False and after.message.seq == 2
    assert after.message.content == {"kind": "text", "text": "later"}
    # The new message is now the one the pair points at.
    assert again.duplicate is True and again.message.seq == 2


async def test_read_after_is_ascending_exclusive_and_limited(log):
    await append_many(log, 10)

    assert [m.seq for m in await log.read_after(CONV, 0, 100)] == list(range(1, 11))
    assert [m.seq for m in await log.read_after(CONV, 3, 4)] == [4, 5, 6, 7]
    assert [m.seq for m in await log.read_after(CONV, 9, 5)] == [10]
    assert await log.read_after(CONV, 10, 5) == []
    assert await log.read_after("d:nobody:here", 0, 5) == []


async def test_read_before_is_newest_first_exclusive_and_limited(log):
    await append_many(log, 10)

    assert [m.seq for m in await log.read_before(CONV, None, 100)] == list(range(10, 0, -1))
    assert [m.seq for m in await log.read_before(CONV, None, 3)] == [10, 9, 8]
    assert [m.seq for m in await log.read_before(CONV, 5, 2)] == [4, 3]
    assert [m.seq for m in await log.read_before(CONV, 3, 10)] == [2, 1]
    assert await log.read_before(CONV, 1, 10) == []
    assert await log.read_before("d:nobody:here", None, 5) == []


async def test_reads_stay_inside_their_conversation(log):
    await append_many(log, 3)
    await append_many(log, 2, conversation=OTHER)

    assert {m.conversation for m in await log.read_after(CONV, 0, 10)} == {CONV}
    assert {m.conversation for m in await log.read_before(OTHER, None, 10)} == {OTHER}


async def test_count_unread_excludes_the_readers_own_messages(log):
    for i, sender in enumerate(["alice", "bob", "bob", "alice", "bob"], start=1):
        await log.append(draft(f"c{i}", sender=sender), WEEK_MS)

    assert await log.count_unread(CONV, "alice", 0) == 3
    assert await log.count_unread(CONV, "bob", 0) == 2
    assert await log.count_unread(CONV, "alice", 2) == 2  # seqs 3 and 5; after_seq exclusive
    assert await log.count_unread(CONV, "alice", 5) == 0
    assert await log.count_unread(CONV, "carol", 0) == 5
    assert await log.count_unread(OTHER, "alice", 0) == 0


async def test_fifty_concurrent_appends_get_seqs_1_to_50(log):
    results = await asyncio.gather(*(log.append(draft(f"c{i}"), WEEK_MS) for i in range(50)))

    assert sorted(r.message.seq for r in results) == list(range(1, 51))
    stored = await log.read_after(CONV, 0, 100)
    assert [m.seq for m in stored] == list(range(1, 51))
    by_client_id = {r.message.client_msg_id: r.message.seq for r in results}
    assert {m.client_msg_id: m.seq for m in stored} == by_client_id


async def test_concurrent_resends_store_one_message(log):
    results = await asyncio.gather(*(log.append(draft("same"), WEEK_MS) for _ in range(10)))

    assert [r.duplicate for r in results].count(False) == 1
    assert {r.message.seq for r in results} == {1}
    assert len(await log.read_after(CONV, 0, 100)) == 1


async def test_every_content_kind_round_trips(log):
    contents = [
        {"kind": "text", "text": "héllo 😀"},
        {"kind": "file", "object_key": "o/1", "name": "a.png", "size": 3, "mime": "image/png"},
        {"kind": "cipher", "alg": "x", "ciphertext": "AAAA", "header": {"n": [1, 2]}},
    ]
    for i, content in enumerate(contents):
        d = MessageDraft(CONV, "alice", "d1", f"c{i}", content, T0)
        await log.append(d, WEEK_MS)

    assert [m.content for m in await log.read_after(CONV, 0, 10)] == contents


async def test_messages_and_dedup_survive_closing_and_reopening(open_port):
    log = await open_port("messages")
    await append_many(log, 3)
    before = await log.read_after(CONV, 0, 10)
    await open_port.close()

    reopened = await open_port("messages")

    assert await reopened.read_after(CONV, 0, 10) == before
    resend = await reopened.append(draft(f"{CONV}-alice-2"), WEEK_MS)
    assert resend.duplicate is True and resend.message.seq == 2
    assert (await reopened.append(draft("new"), WEEK_MS)).message.seq == 4


# -- get, recall, edit ------------------------------------------------------------------

EDITED = {"kind": "text", "text": "fixed typo"}


async def test_get_returns_the_message_at_a_seq_or_none(log):
    await append_many(log, 2)

    second = await log.get(CONV, 2)

    assert second == (await log.read_after(CONV, 1, 1))[0]
    assert await log.get(CONV, 3) is None
    assert await log.get(OTHER, 1) is None


async def test_recall_keeps_the_seq_and_erases_the_content(log):
    await append_many(log, 3)

    recalled = await log.recall(CONV, 2)

    assert recalled is not None
    assert (recalled.seq, recalled.recalled, recalled.content) == (2, True, None)
    stored = await log.read_after(CONV, 0, 10)
    assert [m.seq for m in stored] == [1, 2, 3]
    assert [m.recalled for m in stored] == [False, True, False]
    assert stored[1] == recalled
    assert "content" not in recalled.to_wire() and recalled.to_wire()["recalled"] is True
    assert [m.recalled for m in await log.read_before(CONV, None, 10)] == [False, True, False]
    assert stored[0].content == {"kind": "text", "text": f"text {CONV}-alice-1"}


async def test_recall_is_idempotent_and_unknown_seqs_are_none(log):
    await append_many(log, 1)

    first = await log.recall(CONV, 1)
    again = await log.recall(CONV, 1)

    assert first == again == await log.get(CONV, 1)
    assert await log.recall(CONV, 2) is None
    assert await log.recall(OTHER, 1) is None
    assert await log.get(CONV, 2) is None  # a recall of nothing creates nothing


async def test_count_unread_excludes_recalled_messages(log):
    for i in range(1, 5):
        await log.append(draft(f"c{i}", sender="bob"), WEEK_MS)

    await log.recall(CONV, 3)

    assert await log.count_unread(CONV, "alice", 0) == 3
    assert await log.count_unread(CONV, "alice", 3) == 1


async def test_resend_after_recall_returns_the_recalled_message(log):
    await log.append(draft("c1"), WEEK_MS)
    await log.recall(CONV, 1)

    resend = await log.append(draft("c1"), WEEK_MS)

    assert resend.duplicate is True
    assert (resend.message.seq, resend.message.recalled, resend.message.content) == (1, True, None)


async def test_edit_replaces_the_content_and_marks_it_edited(log):
    await append_many(log, 2)

    edited = await log.edit(CONV, 1, EDITED)
    again = await log.edit(CONV, 1, EDITED)

    assert edited is not None
    assert (edited.content, edited.edited, edited.recalled) == (EDITED, True, False)
    assert again == edited == await log.get(CONV, 1)
    assert (await log.get(CONV, 2)).edited is False
    assert [m.edited for m in await log.read_after(CONV, 0, 10)] == [True, False]
    assert await log.edit(CONV, 3, EDITED) is None
    assert await log.get(CONV, 3) is None


async def test_a_recalled_message_is_never_edited(log):
    await append_many(log, 1)
    await log.recall(CONV, 1)

    after = await log.edit(CONV, 1, EDITED)

    assert after is not None
    assert (after.recalled, after.content, after.edited) == (True, None, False)
    assert await log.get(CONV, 1) == after


async def test_recall_after_an_edit_erases_the_edited_content(log):
    await append_many(log, 1)
    await log.edit(CONV, 1, EDITED)

    recalled = await log.recall(CONV, 1)

    assert (recalled.recalled, recalled.content) == (True, None)


async def test_racing_edits_and_recall_end_recalled_without_content(log):
    await append_many(log, 1)
    edits = [{"kind": "text", "text": f"edit {n}"} for n in range(5)]

    await asyncio.gather(log.recall(CONV, 1), *(log.edit(CONV, 1, c) for c in edits))

    final = await log.get(CONV, 1)
    assert (final.recalled, final.content) == (True, None)


async def test_recall_and_edit_survive_closing_and_reopening(open_port):
    log = await open_port("messages")
    await append_many(log, 2)
    await log.recall(CONV, 1)
    await log.edit(CONV, 2, EDITED)
    before = await log.read_after(CONV, 0, 10)
    await open_port.close()

    reopened = await open_port("messages")

    assert await reopened.read_after(CONV, 0, 10) == before
    assert [(m.recalled, m.edited) for m in before] == [(True, False), (False, True)]
