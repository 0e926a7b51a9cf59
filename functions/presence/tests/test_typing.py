"""typing: ephemeral, to the conversation's other members only, never stored."""

from __future__ import annotations

import pytest

from imfaas.events import catalog


async def test_typing_notifies_the_other_member_not_the_sender(env) -> None:
    reply = await env.ask("ua", {"type": "typing", "conversation": "d:ua:ub"}, conn="c7")
    assert reply == {"type": "typing.ok", "id": "q1"}
    [(data, key)] = env.notified()
    assert data["users"] == ["ub"]
    assert data["frame"] == {"type": "typing", "conversation": "d:ua:ub", "user": "ua"}
    assert data["skip"]["conn"] == "c7"
    assert key == "d:ua:ub"


async def test_typing_publishes_nothing_but_the_notification(env) -> None:
    await env.ask("ub", {"type": "typing", "conversation": "d:ua:ub"})
    assert [event["type"] for event, _ in env.bus.published] == [catalog.USERS_NOTIFIED]


async def test_typing_in_someone_elses_conversation_is_forbidden(env) -> None:
    reply = await env.ask("uc", {"type": "typing", "conversation": "d:ua:ub"})
    assert reply["type"] == "error" and reply["code"] == "forbidden"
    assert env.bus.published == []


async def test_typing_in_a_group_reaches_the_other_members(env) -> None:
    await env.ports.groups.create_group("team", "Team", "ua", ["ub", "uc"], 0)

    reply = await env.ask("ub", {"type": "typing", "conversation": "g:team"})

    assert reply == {"type": "typing.ok", "id": "q1"}
    [(data, key)] = env.notified()
    assert sorted(data["users"]) == ["ua", "uc"]
    assert data["frame"] == {"type": "typing", "conversation": "g:team", "user": "ub"}
    assert key == "g:team"


@pytest.mark.parametrize("user", ["uc", "ua"])
async def test_typing_in_an_unknown_group_or_as_an_outsider_is_not_found(env, user) -> None:
    await env.ports.groups.create_group("team", "Team", "ua", ["ub"], 0)
    group = "g:team" if user == "uc" else "g:other"

    reply = await env.ask(user, {"type": "typing", "conversation": group})

    assert reply["type"] == "error" and reply["code"] == "not_found"
    assert env.bus.published == []


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "typing"},
        {"type": "typing", "conversation": 5},
        {"type": "typing", "conversation": "d:ub:ua"},
        {"type": "typing", "conversation": "x:ua"},
    ],
)
async def test_bad_typing_frames_are_bad_request(env, frame) -> None:
    reply = await env.ask("ua", frame)
    assert reply["type"] == "error" and reply["code"] == "bad_request"
    assert env.bus.published == []
