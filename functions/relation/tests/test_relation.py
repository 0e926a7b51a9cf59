"""friend.request, friend.accept, friend.remove, friend.list, block and unblock (protocol §4)."""

from __future__ import annotations

import pytest

from imfaas.shared.errors import BackendUnavailable

AB = "d:ua:ub"
SKIP_C1 = {"node": "gw-test", "conn": "c1"}


def assert_error(reply, code: str, request_id: str = "q1") -> None:
    assert reply["type"] == "error"
    assert reply["code"] == code
    assert reply["id"] == request_id
    assert reply["message"]


async def lists(env, user: str) -> dict:
    reply = await env.ask(user, {"type": "friend.list"})
    assert reply["type"] == "friend.list.ok"
    return {k: reply[k] for k in ("friends", "pending_in", "pending_out", "blocked")}


def state(friends=(), pending_in=(), pending_out=(), blocked=()) -> dict:
    return {
        "friends": list(friends),
        "pending_in": list(pending_in),
        "pending_out": list(pending_out),
        "blocked": list(blocked),
    }


def friend_event(kind: str, user: str, **extra) -> dict:
    return {"type": "friend.event", "kind": kind, "user": user, **extra}


# -- friend.request -----------------------------------------------------------------------


async def test_request_is_ok_and_tells_the_other_side(env):
    reply = await env.ask("ua", {"type": "friend.request", "user": "ub", "message": "hi, Bob"})

    assert reply == {"type": "friend.request.ok", "id": "q1"}
    assert env.notified() == [
        (
            {
                "users": ["ub"],
                "frame": friend_event("request", "ua", message="hi, Bob"),
                "skip": SKIP_C1,
            },
            AB,
        )
    ]
    assert await lists(env, "ua") == state(pending_out=["ub"])
    assert await lists(env, "ub") == state(pending_in=["ua"])


async def test_request_without_a_message_carries_none(env):
    await env.ask("ub", {"type": "friend.request", "user": "ua"})

    ((data, key),) = env.notified()
    assert data["frame"] == friend_event("request", "ub")
    assert data["users"] == ["ua"]
    assert key == AB  # keyed by the pair, whoever asks


async def test_repeated_request_is_ok_and_tells_no_one_again(env):
    await env.ask("ua", {"type": "friend.request", "user": "ub"})
    reply = await env.ask("ua", {"type": "friend.request", "user": "ub"}, "q2")

    assert reply == {"type": "friend.request.ok", "id": "q2"}
    assert len(env.notified()) == 1


async def test_request_back_accepts_and_tells_both_sides(env):
    await env.ask("ua", {"type": "friend.request", "user": "ub"})
    reply = await env.ask("ub", {"type": "friend.request", "user": "ua"}, "q2", conn="c7")

    assert reply["type"] == "friend.request.ok"
    skip = {"node": "gw-test", "conn": "c7"}
    assert env.notified()[1:] == [
        ({"users": ["ua"], "frame": friend_event("accepted", "ub"), "skip": skip}, AB),
        ({"users": ["ub"], "frame": friend_event("accepted", "ua"), "skip": skip}, AB),
    ]
    assert await lists(env, "ua") == state(friends=["ub"])


async def test_request_to_a_friend_is_ok_and_changes_nothing(env):
    await env.ask("ua", {"type": "friend.request", "user": "ub"})
    await env.ask("ub", {"type": "friend.accept", "user": "ua"})
    published = len(env.bus.published)

    assert (await env.ask("ua", {"type": "friend.request", "user": "ub"}))["type"] == (
        "friend.request.ok"
    )
    assert len(env.bus.published) == published
    assert await lists(env, "ub") == state(friends=["ua"])


async def test_request_to_an_unknown_user_is_not_found(env):
    assert_error(await env.ask("ua", {"type": "friend.request", "user": "ghost"}), "not_found")
    assert env.bus.published == []
    assert await lists(env, "ua") == state()


async def test_request_to_self_is_bad_request(env):
    assert_error(await env.ask("ua", {"type": "friend.request", "user": "ua"}), "bad_request")
    assert env.bus.published == []
    assert await lists(env, "ua") == state()


@pytest.mark.parametrize("blocker", ["ua", "ub"])
async def test_request_across_a_block_is_forbidden_with_one_answer_both_ways(env, blocker):
    other = "ub" if blocker == "ua" else "ua"
    await env.ask(blocker, {"type": "block", "user": other})

    reply = await env.ask("ua", {"type": "friend.request", "user": "ub"}, "q2")

    assert_error(reply, "forbidden", "q2")
    # Whichever side blocks, the answer is word for word the same.
    assert reply["message"] == "you cannot send a friend request to this user"
    assert env.bus.published == []
    assert await lists(env, other) == state()
    assert await lists(env, blocker) == state(blocked=[other])


@pytest.mark.parametrize(
    "frame",
    [
        {},
        {"user": 5},
        {"user": ""},
        {"user": "a:b"},
        {"user": "x" * 65},
        {"user": " ub"},
        {"user": "ub", "message": 3},
        {"user": "ub", "message": None},
        {"user": "ub", "message": "\ud800"},
    ],
    ids=[
        "no-user",
        "user-int",
        "user-empty",
        "user-colon",
        "user-too-long",
        "user-space",
        "message-int",
        "message-null",
        "message-lone-surrogate",
    ],
)
async def test_bad_request_frames_change_nothing(env, frame):
    assert_error(await env.ask("ua", {"type": "friend.request", **frame}), "bad_request")
    assert env.bus.published == []
    assert await lists(env, "ub") == state()


async def test_request_message_over_the_limit_is_too_large(make_relation):
    env = await make_relation(friend_message_max_bytes=8)
    frame = {"type": "friend.request", "user": "ub"}

    assert_error(await env.ask("ua", {**frame, "message": "é" * 5}), "too_large")
    assert env.bus.published == []
    assert (await env.ask("ua", {**frame, "message": "é" * 4}))["type"] == "friend.request.ok"


async def test_request_when_the_bus_is_down_is_unavailable(env):
    env.bus.fail_with = BackendUnavailable("kafka down")

    assert_error(await env.ask("ua", {"type": "friend.request", "user": "ub"}), "unavailable")


# -- friend.accept ------------------------------------------------------------------------


async def test_accept_makes_friends_and_tells_both_sides(env):
    await env.ask("ua", {"type": "friend.request", "user": "ub"})

    reply = await env.ask("ub", {"type": "friend.accept", "user": "ua"}, "q2")

    assert reply == {"type": "friend.accept.ok", "id": "q2"}
    assert env.notified()[1:] == [
        ({"users": ["ua"], "frame": friend_event("accepted", "ub"), "skip": SKIP_C1}, AB),
        ({"users": ["ub"], "frame": friend_event("accepted", "ua"), "skip": SKIP_C1}, AB),
    ]
    assert await lists(env, "ua") == state(friends=["ub"])
    assert await lists(env, "ub") == state(friends=["ua"])


async def test_accept_again_is_ok_and_tells_no_one(env):
    await env.ask("ua", {"type": "friend.request", "user": "ub"})
    await env.ask("ub", {"type": "friend.accept", "user": "ua"})
    published = len(env.bus.published)

    assert (await env.ask("ub", {"type": "friend.accept", "user": "ua"}))["type"] == (
        "friend.accept.ok"
    )
    assert len(env.bus.published) == published


async def test_accept_without_a_request_is_not_found(env):
    await env.ask("ua", {"type": "friend.request", "user": "ub"})

    # The sender cannot accept their own request; a third user has none to accept.
    assert_error(await env.ask("ua", {"type": "friend.accept", "user": "ub"}), "not_found")
    assert_error(await env.ask("uc", {"type": "friend.accept", "user": "ua"}), "not_found")
    assert len(env.notified()) == 1
    assert await lists(env, "ua") == state(pending_out=["ub"])


@pytest.mark.parametrize(
    ("user", "code"), [("ghost", "not_found"), ("ub", "bad_request"), (None, "bad_request")]
)
async def test_accept_failures(env, user, code):
    frame = {"type": "friend.accept"} if user is None else {"type": "friend.accept", "user": user}
    assert_error(await env.ask("ub", frame), code)
    assert env.bus.published == []


# -- friend.remove ------------------------------------------------------------------------


async def test_remove_ends_the_friendship_for_both(env):
    await env.ask("ua", {"type": "friend.request", "user": "ub"})
    await env.ask("ub", {"type": "friend.accept", "user": "ua"})

    assert (await env.ask("ua", {"type": "friend.remove", "user": "ub"}))["type"] == (
        "friend.remove.ok"
    )

    assert await lists(env, "ua") == state()
    assert await lists(env, "ub") == state()


@pytest.mark.parametrize("who", ["ua", "ub"])
async def test_remove_withdraws_or_declines_a_request(env, who):
    await env.ask("ua", {"type": "friend.request", "user": "ub"})
    other = "ub" if who == "ua" else "ua"

    await env.ask(who, {"type": "friend.remove", "user": other})

    assert await lists(env, "ua") == state()
    assert await lists(env, "ub") == state()


async def test_remove_of_a_stranger_is_ok(env):
    assert (await env.ask("ua", {"type": "friend.remove", "user": "uc"}))["type"] == (
        "friend.remove.ok"
    )


@pytest.mark.parametrize("frame_type", ["friend.remove", "block", "unblock"])
@pytest.mark.parametrize(
    ("user", "code"), [("ghost", "not_found"), ("ua", "bad_request"), (7, "bad_request")]
)
async def test_remove_block_unblock_failures_change_nothing(env, frame_type, user, code):
    await env.ask("ua", {"type": "friend.request", "user": "ub"})

    assert_error(await env.ask("ua", {"type": frame_type, "user": user}), code)

    assert await lists(env, "ua") == state(pending_out=["ub"])


# -- block / unblock ----------------------------------------------------------------------


async def test_block_ends_friendship_tells_no_one_and_lists_only_for_the_blocker(env):
    await env.ask("ua", {"type": "friend.request", "user": "ub"})
    await env.ask("ub", {"type": "friend.accept", "user": "ua"})
    published = len(env.bus.published)

    assert (await env.ask("ub", {"type": "block", "user": "ua"}))["type"] == "block.ok"

    assert len(env.bus.published) == published
    assert await lists(env, "ub") == state(blocked=["ua"])
    assert await lists(env, "ua") == state()


async def test_unblock_lifts_the_block_but_not_the_old_friendship(env):
    await env.ask("ua", {"type": "friend.request", "user": "ub"})
    await env.ask("ub", {"type": "friend.accept", "user": "ua"})
    await env.ask("ub", {"type": "block", "user": "ua"})

    assert (await env.ask("ub", {"type": "unblock", "user": "ua"}))["type"] == "unblock.ok"
    assert (await env.ask("ub", {"type": "unblock", "user": "ua"}))["type"] == "unblock.ok"

    assert await lists(env, "ub") == state()
    assert (await env.ask("ua", {"type": "friend.request", "user": "ub"}))["type"] == (
        "friend.request.ok"
    )


async def test_friend_list_of_a_user_with_no_relations_is_empty(env):
    reply = await env.ask("uc", {"type": "friend.list"})
    assert reply == {
        "type": "friend.list.ok",
        "id": "q1",
        "friends": [],
        "pending_in": [],
        "pending_out": [],
        "blocked": [],
    }
