"""PushRegistry contract: preferences with defaults, per-conversation push mutes, and push
records whose ``claim`` counts every attempt atomically and never passes a final status."""

from __future__ import annotations

import asyncio

import pytest

from imfaas.shared.ports.push_registry import FINAL_STATUSES, PushPreferences, PushRecord

NOW = 1_700_000_000_000


@pytest.fixture
async def pushes(open_port):
    return await open_port("pushes")


# -- preferences ------------------------------------------------------------------------


async def test_preferences_never_set_are_the_defaults(pushes):
    prefs = await pushes.preferences("u1")

    assert prefs == PushPreferences("u1")
    assert (prefs.preview, prefs.dnd_start_min, prefs.dnd_end_min, prefs.utc_offset_min) == (
        True,
        None,
        None,
        0,
    )


async def test_preferences_are_stored_and_replaced_per_user(pushes):
    quiet = PushPreferences("u1", preview=False, dnd_start_min=22 * 60, dnd_end_min=7 * 60)
    await pushes.set_preferences(quiet)
    await pushes.set_preferences(PushPreferences("u2", utc_offset_min=-300))

    assert await pushes.preferences("u1") == quiet
    assert await pushes.preferences("u2") == PushPreferences("u2", utc_offset_min=-300)

    replaced = PushPreferences("u1", preview=True, utc_offset_min=330)
    await pushes.set_preferences(replaced)

    # Replaced as a whole: do-not-disturb is gone, not kept from before.
    assert await pushes.preferences("u1") == replaced
    assert await pushes.preferences("u3") == PushPreferences("u3")


# -- conversation mutes -----------------------------------------------------------------


async def test_no_conversation_is_muted_at_first(pushes):
    assert await pushes.conversation_mutes("u1", ["d:u1:u2", "g:g1"]) == {}
    assert await pushes.conversation_mutes("u1", []) == {}


async def test_conversation_mutes_are_set_replaced_and_lifted(pushes):
    await pushes.set_conversation_mute("u1", "d:u1:u2", NOW + 1000)
    await pushes.set_conversation_mute("u1", "g:g1", NOW + 5000)
    await pushes.set_conversation_mute("u1", "g:g1", NOW + 9000)

    assert await pushes.conversation_mutes("u1", ["d:u1:u2", "g:g1"]) == {
        "d:u1:u2": NOW + 1000,
        "g:g1": NOW + 9000,
    }

    await pushes.set_conversation_mute("u1", "d:u1:u2", 0)

    assert await pushes.conversation_mutes("u1", ["d:u1:u2", "g:g1"]) == {"g:g1": NOW + 9000}
    await pushes.set_conversation_mute("u1", "never-muted", 0)  # lifting nothing is fine


async def test_only_the_asked_conversations_of_that_user_come_back(pushes):
    for conversation in ("a", "b", "c"):
        await pushes.set_conversation_mute("u1", conversation, NOW)
    await pushes.set_conversation_mute("u2", "d", NOW + 1)

    assert await pushes.conversation_mutes("u1", ["a", "c", "d", "zz"]) == {"a": NOW, "c": NOW}
    assert await pushes.conversation_mutes("u2", ["a", "b", "c", "d"]) == {"d": NOW + 1}


# -- records: claim and finish ----------------------------------------------------------


async def test_the_first_claim_is_attempt_one_and_pending(pushes):
    record = await pushes.claim("m1:d1", "u1", "d1", "fcm", NOW)

    assert record == PushRecord("m1:d1", "u1", "d1", "fcm", "pending", 1, 0, None, None, NOW)
    assert await pushes.record("m1:d1") == record
    assert await pushes.record("other") is None


async def test_a_second_claim_counts_a_second_attempt(pushes):
    await pushes.claim("m1:d1", "u1", "d1", "apns", NOW)

    record = await pushes.claim("m1:d1", "u1", "d1", "apns", NOW + 10)

    assert record is not None
    assert (record.status, record.attempts, record.updated_ms) == ("pending", 2, NOW + 10)
    assert await pushes.record("m1:d1") == record


async def test_finish_records_the_outcome(pushes):
    await pushes.claim("k", "u1", "d1", "hms", NOW)

    await pushes.finish("k", "delivered", 42.5, "pm-1", None, NOW + 50)

    assert await pushes.record("k") == PushRecord(
        "k", "u1", "d1", "hms", "delivered", 1, 42.5, "pm-1", None, NOW + 50
    )


@pytest.mark.parametrize("status", FINAL_STATUSES)
async def test_a_final_status_is_never_claimed_again(pushes, status):
    await pushes.claim("k", "u1", "d1", "fcm", NOW)
    await pushes.claim("k", "u1", "d1", "fcm", NOW + 1)
    await pushes.finish("k", status, 12, None, f"why-{status}", NOW + 2)
    finished = await pushes.record("k")

    assert await pushes.claim("k", "u1", "d1", "fcm", NOW + 3) is None
    assert await pushes.claim("k", "u1", "d1", "fcm", NOW + 4) is None

    assert await pushes.record("k") == finished
    assert finished is not None and (finished.status, finished.attempts) == (status, 2)


async def test_a_retry_left_pending_is_claimed_again(pushes):
    await pushes.claim("k", "u1", "d1", "fcm", NOW)
    await pushes.finish("k", "pending", 30.0, None, "http 503", NOW + 1)

    again = await pushes.claim("k", "u1", "d1", "fcm", NOW + 1000)

    assert again is not None
    assert (again.status, again.attempts, again.updated_ms) == ("pending", 2, NOW + 1000)
    await pushes.finish("k", "delivered", 8.0, "pm-2", None, NOW + 1010)
    assert await pushes.claim("k", "u1", "d1", "fcm", NOW + 2000) is None


async def test_finish_of_an_unknown_key_creates_nothing(pushes):
    await pushes.finish("ghost", "delivered", 1.0, None, None, NOW)

    assert await pushes.record("ghost") is None


async def test_concurrent_claims_each_count_once(pushes):
    records = await asyncio.gather(
        *(pushes.claim("k", "u1", "d1", "fcm", NOW + i) for i in range(20))
    )

    assert sorted(r.attempts for r in records if r is not None) == list(range(1, 21))
    final = await pushes.record("k")
    assert final is not None and final.attempts == 20


async def test_concurrent_claims_never_pass_a_final_status(pushes):
    await pushes.claim("k", "u1", "d1", "fcm", NOW)
    await pushes.finish("k", "dead", 0.0, None, "budget spent", NOW + 1)

    results = await asyncio.gather(
        *(pushes.claim("k", "u1", "d1", "fcm", NOW + 2) for _ in range(20))
    )

    assert results == [None] * 20
    record = await pushes.record("k")
    assert record is not None and (record.status, record.attempts) == ("dead", 1)


async def test_records_for_user_are_oldest_update_first(pushes):
    await pushes.claim("a", "u1", "d1", "fcm", NOW + 30)
    await pushes.claim("b", "u1", "d2", "apns", NOW + 10)
    await pushes.claim("c", "u2", "d1", "fcm", NOW + 5)
    await pushes.claim("d", "u1", "d1", "fcm", NOW + 20)
    await pushes.finish("b", "delivered", 5.0, "pm", None, NOW + 40)  # b moves to the end

    assert [r.key for r in await pushes.records_for_user("u1")] == ["d", "a", "b"]
    assert [r.key for r in await pushes.records_for_user("u2")] == ["c"]
    assert await pushes.records_for_user("u3") == []


# -- durability -------------------------------------------------------------------------


async def test_push_state_survives_closing_and_reopening(open_port):
    pushes = await open_port("pushes")
    prefs = PushPreferences("u1", preview=False, dnd_start_min=0, dnd_end_min=360)
    await pushes.set_preferences(prefs)
    await pushes.set_conversation_mute("u1", "g:g1", NOW + 60_000)
    await pushes.claim("done", "u1", "d1", "apns", NOW)
    await pushes.finish("done", "delivered", 17.25, "apns-id", None, NOW + 1)
    await pushes.claim("retry", "u1", "d1", "apns", NOW + 2)
    await open_port.close()

    reopened = await open_port("pushes")

    assert await reopened.preferences("u1") == prefs
    assert await reopened.conversation_mutes("u1", ["g:g1"]) == {"g:g1": NOW + 60_000}
    assert await reopened.claim("done", "u1", "d1", "apns", NOW + 3) is None
    again = await reopened.claim("retry", "u1", "d1", "apns", NOW + 4)
    assert again is not None and again.attempts == 2
    assert [r.key for r in await reopened.records_for_user("u1")] == ["done", "retry"]


async def test_a_late_finish_never_reopens_a_final_record(pushes):
    await pushes.claim("late", "u1", "d1", "fcm", 1)
    await pushes.finish("late", "delivered", 5.0, "id-1", None, 2)

    await pushes.finish("late", "pending", 9.0, None, "timeout", 3)

    record = await pushes.record("late")
    assert (record.status, record.provider_message_id, record.updated_ms) == (
        "delivered",
        "id-1",
        2,
    )
    assert await pushes.claim("late", "u1", "d1", "fcm", 4) is None
