"""msg.send and relationships: blocks stop direct messages both ways, and the
``friends`` policy needs a friendship; refused sends publish nothing (protocol §3, §4)."""

from __future__ import annotations

import pytest

from imfaas.events import catalog
from imfaas.shared.settings import SettingsError
from imfaas.shared.testing import identity, make_settings, reply_frame

TEXT = {"kind": "text", "text": "hello"}


async def send(env, sender: str, **target) -> dict | None:
    frame = {"type": "msg.send", "id": "r1", "client_msg_id": "cm-1", "content": TEXT, **target}
    return await reply_frame(env.fn.handle, frame, identity(sender))


def assert_forbidden(reply) -> None:
    assert reply is not None
    assert (reply["type"], reply["code"], reply["id"]) == ("error", "forbidden", "r1")


def submitted(env) -> list[str]:
    return [e.get_data()["conversation"] for e in env.bus.of_type(catalog.MESSAGE_SUBMITTED)]


async def befriend(env, a: str, b: str) -> None:
    await env.ports.relations.request_friend(a, b, "")
    await env.ports.relations.accept_friend(b, a)


@pytest.mark.parametrize(("blocker", "blocked"), [("ua", "ub"), ("ub", "ua")])
@pytest.mark.parametrize("by", ["to", "conversation"])
async def test_a_block_either_way_forbids_direct_messages_both_ways(env, blocker, blocked, by):
    await env.ports.relations.block(blocker, blocked)

    for sender, recipient in (("ua", "ub"), ("ub", "ua")):
        target = {"to": recipient} if by == "to" else {"conversation": "d:ua:ub"}
        assert_forbidden(await send(env, sender, **target))

    assert env.bus.published == []
    # Others still reach both.
    assert await send(env, "uc", to="ua") is None
    assert submitted(env) == ["d:ua:uc"]


async def test_unblock_lets_messages_through_again(env):
    await env.ports.relations.block("ua", "ub")
    await env.ports.relations.unblock("ua", "ub")

    assert await send(env, "ub", to="ua") is None
    assert submitted(env) == ["d:ua:ub"]


async def test_a_block_is_refused_with_the_same_words_as_the_friends_policy(make_send):
    # The sender must not learn whether it was blocked or merely is not a friend.
    blocked_env = await make_send()
    await blocked_env.ports.relations.block("ub", "ua")
    friends_env = await make_send(direct_message_policy="friends")

    blocked = await send(blocked_env, "ua", to="ub")
    stranger = await send(friends_env, "ua", to="ub")

    assert_forbidden(blocked)
    assert_forbidden(stranger)
    assert blocked["message"] == stranger["message"]


async def test_friends_policy_forbids_strangers_and_pending_requests(make_send):
    env = await make_send(direct_message_policy="friends")
    await env.ports.relations.request_friend("ua", "ub", "")

    assert_forbidden(await send(env, "ua", to="ub"))
    assert_forbidden(await send(env, "ub", to="ua"))
    assert_forbidden(await send(env, "ua", to="uc"))
    assert env.bus.published == []


async def test_friends_policy_lets_friends_through_until_removed(make_send):
    env = await make_send(direct_message_policy="friends")
    await befriend(env, "ua", "ub")

    assert await send(env, "ua", to="ub") is None
    assert await send(env, "ub", conversation="d:ua:ub") is None
    await env.ports.relations.remove_friend("ua", "ub")
    assert_forbidden(await send(env, "ua", to="ub"))
    assert submitted(env) == ["d:ua:ub", "d:ua:ub"]


async def test_unknown_recipient_stays_not_found_whatever_the_policy(make_send):
    env = await make_send(direct_message_policy="friends")
    reply = await send(env, "ua", to="ghost")
    assert reply is not None and reply["code"] == "not_found"


def test_an_unknown_policy_is_refused_at_start_up(tmp_path):
    with pytest.raises(SettingsError, match="direct_message_policy"):
        make_settings(tmp_path, direct_message_policy="nobody")
