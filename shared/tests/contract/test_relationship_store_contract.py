"""RelationshipStore contract: symmetric friendships, directed requests and blocks, atomic
per pair, durable."""

from __future__ import annotations

import asyncio

import pytest

from imfaas.shared.ports.relationship_store import AcceptOutcome, Relations, RequestOutcome

NOTHING = Relations([], [], [], [])


@pytest.fixture
async def relations(open_port):
    return await open_port("relations")


async def test_a_request_is_pending_out_for_the_sender_and_in_for_the_recipient(relations):
    assert await relations.request_friend("ua", "ub", "hi") is RequestOutcome.REQUESTED

    assert await relations.relations_of("ua") == Relations([], [], ["ub"], [])
    assert await relations.relations_of("ub") == Relations([], ["ua"], [], [])
    assert await relations.relations_of("uc") == NOTHING
    assert not await relations.are_friends("ua", "ub")


async def test_requesting_again_changes_nothing(relations):
    await relations.request_friend("ua", "ub", "")

    assert await relations.request_friend("ua", "ub", "") is RequestOutcome.ALREADY_PENDING
    assert await relations.relations_of("ub") == Relations([], ["ua"], [], [])


async def test_accept_makes_both_friends_and_clears_the_request(relations):
    await relations.request_friend("ua", "ub", "")

    assert await relations.accept_friend("ub", "ua") is AcceptOutcome.ACCEPTED

    assert await relations.relations_of("ua") == Relations(["ub"], [], [], [])
    assert await relations.relations_of("ub") == Relations(["ua"], [], [], [])
    assert await relations.are_friends("ua", "ub")
    assert await relations.are_friends("ub", "ua")


async def test_accept_again_is_already_friends(relations):
    await relations.request_friend("ua", "ub", "")
    await relations.accept_friend("ub", "ua")

    assert await relations.accept_friend("ub", "ua") is AcceptOutcome.ALREADY_FRIENDS
    assert await relations.request_friend("ua", "ub", "") is RequestOutcome.ALREADY_FRIENDS
    assert await relations.relations_of("ua") == Relations(["ub"], [], [], [])


async def test_accept_without_a_request_changes_nothing(relations):
    await relations.request_friend("ua", "ub", "")

    # Only the recipient can accept; the sender accepting their own request finds none.
    assert await relations.accept_friend("ua", "ub") is AcceptOutcome.NO_REQUEST
    assert await relations.accept_friend("uc", "ua") is AcceptOutcome.NO_REQUEST
    assert await relations.relations_of("ua") == Relations([], [], ["ub"], [])
    assert await relations.relations_of("uc") == NOTHING


async def test_a_request_back_accepts_the_pending_one(relations):
    await relations.request_friend("ua", "ub", "")

    assert await relations.request_friend("ub", "ua", "") is RequestOutcome.ACCEPTED

    assert await relations.relations_of("ua") == Relations(["ub"], [], [], [])
    assert await relations.relations_of("ub") == Relations(["ua"], [], [], [])


async def test_remove_ends_the_friendship_on_both_sides(relations):
    await relations.request_friend("ua", "ub", "")
    await relations.accept_friend("ub", "ua")

    await relations.remove_friend("ub", "ua")

    assert await relations.relations_of("ua") == NOTHING
    assert await relations.relations_of("ub") == NOTHING
    assert not await relations.are_friends("ua", "ub")
    await relations.remove_friend("ub", "ua")  # idempotent


@pytest.mark.parametrize("remover", ["ua", "ub"])
async def test_remove_withdraws_or_declines_a_pending_request(relations, remover):
    await relations.request_friend("ua", "ub", "")
    other = "ub" if remover == "ua" else "ua"

    await relations.remove_friend(remover, other)

    assert await relations.relations_of("ua") == NOTHING
    assert await relations.relations_of("ub") == NOTHING


async def test_block_is_one_way_in_the_list_and_both_ways_in_the_check(relations):
    await relations.block("ua", "ub")

    assert await relations.relations_of("ua") == Relations([], [], [], ["ub"])
    assert await relations.relations_of("ub") == NOTHING
    assert await relations.is_blocked_either("ua", "ub")
    assert await relations.is_blocked_either("ub", "ua")
    assert not await relations.is_blocked_either("ua", "uc")
    await relations.block("ua", "ub")  # idempotent
    assert await relations.relations_of("ua") == Relations([], [], [], ["ub"])


@pytest.mark.parametrize(("sender", "recipient"), [("ua", "ub"), ("ub", "ua")])
async def test_a_block_refuses_requests_both_ways(relations, sender, recipient):
    await relations.block("ua", "ub")

    assert await relations.request_friend(sender, recipient, "") is RequestOutcome.BLOCKED

    assert await relations.relations_of("ua") == Relations([], [], [], ["ub"])
    assert await relations.relations_of("ub") == NOTHING


async def test_block_ends_friendship_and_requests_and_unblock_does_not_restore_them(relations):
    await relations.request_friend("ua", "ub", "")
    await relations.accept_friend("ub", "ua")
    await relations.request_friend("uc", "ua", "")

    await relations.block("ua", "ub")
    await relations.block("ua", "uc")

    assert await relations.relations_of("ua") == Relations([], [], [], ["ub", "uc"])
    assert await relations.relations_of("ub") == NOTHING
    assert await relations.relations_of("uc") == NOTHING

    await relations.unblock("ua", "ub")

    assert await relations.relations_of("ua") == Relations([], [], [], ["uc"])
    assert not await relations.is_blocked_either("ua", "ub")
    assert not await relations.are_friends("ua", "ub")
    assert await relations.request_friend("ub", "ua", "") is RequestOutcome.REQUESTED


async def test_unblock_lifts_only_the_callers_block(relations):
    await relations.block("ua", "ub")
    await relations.block("ub", "ua")

    await relations.unblock("ua", "ub")
    await relations.unblock("ua", "uc")  # nothing to lift

    assert await relations.is_blocked_either("ua", "ub")
    assert await relations.relations_of("ub") == Relations([], [], [], ["ua"])
    assert await relations.relations_of("ua") == NOTHING


async def test_lists_are_sorted_by_code_point(relations):
    for other in ("uz", "uB", "ua", "u_"):
        await relations.request_friend("me", other, "")
        await relations.block(other + "x", "me")  # blocks of me are not my list
        await relations.block("me", other + "y")

    mine = await relations.relations_of("me")

    assert mine.pending_out == ["uB", "u_", "ua", "uz"]
    assert mine.blocked == ["uBy", "u_y", "uay", "uzy"]


async def test_a_request_racing_a_block_never_outlives_it(relations):
    for n in range(10):
        sender, blocker = f"s{n}", f"b{n}"
        await asyncio.gather(
            relations.request_friend(sender, blocker, ""), relations.block(blocker, sender)
        )
        assert await relations.relations_of(blocker) == Relations([], [], [], [sender])
        assert await relations.relations_of(sender) == NOTHING


async def test_crossing_requests_end_as_one_friendship(relations):
    for n in range(10):
        a, b = f"a{n}", f"b{n}"
        outcomes = await asyncio.gather(
            relations.request_friend(a, b, ""), relations.request_friend(b, a, "")
        )
        assert sorted(o.value for o in outcomes) == ["accepted", "requested"]
        assert await relations.relations_of(a) == Relations([b], [], [], [])
        assert await relations.relations_of(b) == Relations([a], [], [], [])


async def test_relationships_survive_closing_and_reopening(open_port):
    relations = await open_port("relations")
    await relations.request_friend("ua", "ub", "hello")
    await relations.accept_friend("ub", "ua")
    await relations.request_friend("uc", "ua", "")
    await relations.block("ud", "ua")
    await open_port.close()

    reopened = await open_port("relations")

    assert await reopened.relations_of("ua") == Relations(["ub"], ["uc"], [], [])
    assert await reopened.relations_of("ud") == Relations([], [], [], ["ua"])
    assert await reopened.is_blocked_either("ua", "ud")
