"""Groups in the history function: conv.list and sync list the user's groups, a cursor of a
group the user no longer belongs to comes back in ``gone``, read marks in groups, and who may
read, recall and edit there (membership and roles as the group function last changed them)."""

from __future__ import annotations

from typing import Any

import pytest

from imfaas.events import catalog
from imfaas.events.schema_registry import data_problems
from imfaas.functions.group.handler import create_function as create_group
from imfaas.shared.ports.user_directory import UserRecord
from imfaas.shared.testing import identity, reply_frame

USERS = ("ua", "ub", "uc", "ud", "ue")
AB = "d:ua:ub"
WINDOW_S = 120


def assert_error(reply: dict[str, Any], code: str) -> None:
    assert (reply["type"], reply["code"], reply["id"]) == ("error", code, "q1"), reply
    assert reply["message"]


class Groups:
    """The group function on the history env's ports (one cache: its changes are seen)."""

    def __init__(self, env: Any) -> None:
        self.env = env
        self.fn = create_group(env.settings, env.ports)

    async def request(self, actor: str, kind: str, **fields: Any) -> dict[str, Any]:
        """``group.<kind>`` by ``actor``, which must succeed; the events it published dropped."""
        frame = {"type": f"group.{kind}", "id": "g", **fields}
        reply = await reply_frame(self.fn.handle, frame, identity(actor, conn_id="cg"))
        assert reply is not None and reply["type"] == f"group.{kind}.ok", reply
        self.env.bus.published.clear()
        return reply

    async def new(self, owner: str, *members: str) -> str:
        """A group's conversation id."""
        reply = await self.request(owner, "create", name="team", members=list(members))
        return reply["conversation"]

    async def on(self, actor: str, conversation: str, kind: str, **fields: Any) -> None:
        await self.request(actor, kind, group_id=conversation[2:], **fields)

    async def part(self, conversation: str, user: str, how: str) -> None:
        """``user`` (not the owner ua) is out of the group: ``kicked``, ``left`` or
        ``dissolved`` (by ua, with everyone else)."""
        if how == "left":
            await self.on(user, conversation, "leave")
        elif how == "kicked":
            await self.on("ua", conversation, "kick", user=user)
        else:
            await self.on("ua", conversation, "dissolve")


@pytest.fixture
async def groups(env) -> Groups:
    for user in USERS:
        await env.ports.users.create_user(UserRecord(user, "name-" + user, "x", 0))
    return Groups(env)


@pytest.fixture
async def team(groups) -> str:
    """``g:<id>``: owner ua, members ub and uc."""
    return await groups.new("ua", "ub", "uc")


def notified(env) -> list[tuple[dict[str, Any], str]]:
    return env.bus.data_and_keys(catalog.USERS_NOTIFIED)


async def state(env, conversation: str) -> tuple[Any, ...]:
    """What a refused request must leave as it was: messages, every index row, events."""
    messages = [m.to_wire() for m in await env.ports.messages.read_after(conversation, 0, 100)]
    rows = [await env.ports.conversations.list_for_user(user, None) for user in USERS]
    return messages, rows, len(env.bus.published)


async def listed(env, user: str) -> dict[str, dict[str, Any]]:
    reply = await env.ask(user, {"type": "conv.list"})
    assert reply["type"] == "conv.list.result"
    return {c["conversation"]: c for c in reply["conversations"]}


# -- conv.list ----------------------------------------------------------------------------


async def test_conv_list_has_each_group_of_the_user_with_its_activity(env, groups, team):
    quiet = await groups.new("ua", "ud")
    await env.post(AB, "ub")
    await env.post(team, "ub")
    await env.post(team, "ua")
    last = await env.post(team, "uc", text="latest")

    reply = await env.ask("ua", {"type": "conv.list"})

    assert [c["conversation"] for c in reply["conversations"]] == [team, AB, quiet]
    first = reply["conversations"][0]
    assert first == {
        "conversation": team,
        "last_seq": 3,
        "read_seq": 0,
        "unread": 2,  # ub's and uc's, not ua's own
        "last_message": last,
    }
    assert reply["conversations"][2] == {
        "conversation": quiet,
        "last_seq": 0,
        "read_seq": 0,
        "unread": 0,
        "last_message": None,
    }
    assert data_problems("frames/conv.list.result.json", reply) == []
    assert list(await listed(env, "uc")) == [team]
    assert list(await listed(env, "ud")) == [quiet]
    assert await listed(env, "ue") == {}


async def test_conv_list_is_ordered_by_the_groups_activity(env, groups, team):
    other = await groups.new("ub", "ua")
    await env.post(team, "ua")
    await env.post(other, "ub")
    assert list(await listed(env, "ua")) == [other, team]

    await env.post(team, "uc")

    assert list(await listed(env, "ua")) == [team, other]


async def test_groups_count_toward_the_conv_list_cap(make_history):
    env = await make_history(conv_list_max=2)
    groups = Groups(env)
    for user in USERS:
        await env.ports.users.create_user(UserRecord(user, "name-" + user, "x", 0))
    quiet = await groups.new("ua", "ub")
    busy = await groups.new("ub", "ua")
    await env.post(AB, "ub")
    await env.post(busy, "ub")

    assert list(await listed(env, "ua")) == [busy, AB]  # the group without activity is cut
    reply = await env.ask("ua", {"type": "sync", "cursors": {quiet: 0}})
    assert "gone" not in reply  # cut from the list, but still one of the user's groups


@pytest.mark.parametrize("how", ["kicked", "left", "dissolved"])
async def test_conv_list_drops_a_group_the_user_no_longer_belongs_to(env, groups, team, how):
    await env.post(team, "ub")
    assert (await env.ask("uc", {"type": "msg.read", "conversation": team, "seq": 1}))[
        "type"
    ] == "msg.read.ok"  # uc now has a row of its own for the group
    assert team in await listed(env, "uc")

    await groups.part(team, "uc", how)

    assert team not in await listed(env, "uc")
    assert (team in await listed(env, "ub")) is (how != "dissolved")


async def test_a_user_invited_later_sees_the_group_at_once(env, groups, team):
    await env.post(team, "ua")
    assert await listed(env, "ud") == {}

    await groups.on("ua", team, "invite", users=["ud"])

    row = (await listed(env, "ud"))[team]
    assert (row["last_seq"], row["read_seq"], row["unread"]) == (1, 0, 1)


# -- sync ---------------------------------------------------------------------------------


async def test_sync_includes_the_messages_of_the_users_groups(env, groups, team):
    posted = [await env.post(team, "ub"), await env.post(AB, "ua"), await env.post(team, "uc")]

    reply = await env.ask("uc", {"type": "sync"})

    assert reply["type"] == "sync.result"
    assert reply["messages"] == [posted[0], posted[2]]
    assert reply["cursors"] == {team: 2}
    assert reply["has_more"] is False
    assert "gone" not in reply
    everything = await env.ask("ua", {"type": "sync", "cursors": {team: 1}})
    assert sorted((m["conversation"], m["seq"]) for m in everything["messages"]) == sorted(
        [(team, 2), (AB, 1)]
    )
    assert await env.ask("ue", {"type": "sync"}) == {
        "type": "sync.result",
        "id": "q1",
        "messages": [],
        "cursors": {},
        "has_more": False,
    }


async def test_sync_pages_group_messages_with_has_more(env, team):
    for _ in range(5):
        await env.post(team, "ub")

    first = await env.ask("uc", {"type": "sync", "limit": 3})
    rest = await env.ask("uc", {"type": "sync", "cursors": first["cursors"], "limit": 3})

    assert ([m["seq"] for m in first["messages"]], first["has_more"]) == ([1, 2, 3], True)
    assert ([m["seq"] for m in rest["messages"]], rest["has_more"]) == ([4, 5], False)
    assert rest["cursors"] == {team: 5}


async def test_sync_serves_the_longest_idle_conversation_first(env, team):
    old = await env.post(team, "ub")
    await env.post(AB, "ub")
    await env.post(AB, "ub")

    first = await env.ask("ua", {"type": "sync", "limit": 1})
    second = await env.ask("ua", {"type": "sync", "cursors": first["cursors"], "limit": 1})

    assert (first["messages"], first["cursors"], first["has_more"]) == ([old], {team: 1}, True)
    assert [(m["conversation"], m["seq"]) for m in second["messages"]] == [(AB, 1)]
    assert second["cursors"] == {team: 1, AB: 1}


async def test_sync_cursor_of_a_member_group_without_messages_is_kept(env, team):
    reply = await env.ask("ub", {"type": "sync", "cursors": {team: 0}})

    assert reply["messages"] == []
    assert reply["cursors"] == {team: 0}
    assert "gone" not in reply


@pytest.mark.parametrize("how", ["kicked", "left", "dissolved"])
async def test_sync_cursor_of_a_group_the_user_no_longer_belongs_to_is_gone(env, groups, team, how):
    await env.post(team, "ua")
    direct = await env.post(AB, "ub")
    await groups.part(team, "ub", how)
    if how != "dissolved":
        await env.post(team, "uc")  # the group goes on without ub

    reply = await env.ask("ub", {"type": "sync", "cursors": {team: 1}})

    assert reply["messages"] == [direct]
    assert reply["cursors"] == {team: 1, AB: 1}
    assert reply["gone"] == [team]
    assert reply["has_more"] is False
    assert data_problems("frames/sync.result.json", reply) == []


async def test_sync_names_only_the_gone_cursors(env, groups, team):
    other = await groups.new("ub", "uc")
    await env.post(team, "ua")
    fresh = await env.post(other, "ub")
    await groups.on("ua", team, "kick", user="uc")

    reply = await env.ask("uc", {"type": "sync", "cursors": {team: 1, "g:nope": 4, other: 0}})

    assert reply["messages"] == [fresh]
    assert reply["cursors"] == {team: 1, "g:nope": 4, other: 1}
    assert sorted(reply["gone"]) == sorted([team, "g:nope"])


async def test_sync_with_a_gone_cursor_still_refuses_a_direct_conversation_of_others(env, team):
    await env.post("d:ub:uc", "ub")
    before = await state(env, team)

    assert_error(
        await env.ask("ua", {"type": "sync", "cursors": {"g:nope": 1, "d:ub:uc": 0}}), "forbidden"
    )
    assert await state(env, team) == before


# -- msg.read -----------------------------------------------------------------------------


async def test_read_in_a_group_makes_the_readers_row_and_tells_every_member(env, team):
    for _ in range(3):
        await env.post(team, "ub")
    assert await env.ports.conversations.get_entries("uc", [team]) == {}

    reply = await env.ask("uc", {"type": "msg.read", "conversation": team, "seq": 2}, conn="c7")

    assert reply == {"type": "msg.read.ok", "id": "q1"}
    assert (await env.ports.conversations.get_entries("uc", [team]))[team].read_seq == 2
    for other in ("ua", "ub"):  # no row is written for the others
        assert await env.ports.conversations.get_entries(other, [team]) == {}
    [(data, key)] = notified(env)
    assert key == team
    assert sorted(data["users"]) == ["ua", "ub", "uc"]
    assert data["frame"] == {"type": "receipt", "conversation": team, "user": "uc", "seq": 2}
    assert data["skip"] == {"node": "gw-test", "conn": "c7"}
    row = (await listed(env, "uc"))[team]
    assert (row["last_seq"], row["read_seq"], row["unread"]) == (3, 2, 1)
    assert (await listed(env, "ua"))[team]["read_seq"] == 0


async def test_a_group_read_mark_never_goes_back(env, team):
    for _ in range(3):
        await env.post(team, "ua")
    await env.ask("ub", {"type": "msg.read", "conversation": team, "seq": 3})

    reply = await env.ask("ub", {"type": "msg.read", "conversation": team, "seq": 1})

    assert reply["type"] == "msg.read.ok"
    assert notified(env)[-1][0]["frame"]["seq"] == 3
    row = (await listed(env, "ub"))[team]
    assert (row["read_seq"], row["unread"]) == (3, 0)
    assert (await env.ask("ub", {"type": "sync", "cursors": {team: 3}}))["messages"] == []


@pytest.mark.parametrize("seq", [2, 9])
async def test_a_group_read_beyond_the_last_message_is_refused_and_writes_no_row(env, team, seq):
    await env.post(team, "ua")
    before = await state(env, team)

    assert_error(
        await env.ask("ub", {"type": "msg.read", "conversation": team, "seq": seq}), "bad_request"
    )

    assert await state(env, team) == before
    assert await env.ports.conversations.get_entries("ub", [team]) == {}


async def test_a_read_in_a_group_without_messages_is_refused(env, team):
    before = await state(env, team)
    assert_error(
        await env.ask("ub", {"type": "msg.read", "conversation": team, "seq": 1}), "bad_request"
    )
    assert await state(env, team) == before


@pytest.mark.parametrize(
    ("user", "group", "code"),
    [("ud", "team", "forbidden"), ("ua", "g:nope", "not_found")],
    ids=["outsider", "unknown-group"],
)
@pytest.mark.parametrize("frame_type", ["msg.read", "msg.recall", "msg.history"])
async def test_outsiders_and_unknown_groups_are_refused_and_change_nothing(
    env, team, frame_type, user, group, code
):
    conversation = team if group == "team" else group
    await env.post(team, "ua")
    before = await state(env, team)

    reply = await env.ask(user, {"type": frame_type, "conversation": conversation, "seq": 1})

    assert_error(reply, code)
    assert await state(env, team) == before


async def test_a_kicked_member_may_no_longer_read_history_or_mark_read(env, groups, team):
    await env.post(team, "ua")
    assert (await env.ask("uc", {"type": "msg.history", "conversation": team}))["messages"]

    await groups.on("ua", team, "kick", user="uc")
    before = await state(env, team)

    assert_error(await env.ask("uc", {"type": "msg.history", "conversation": team}), "forbidden")
    assert_error(
        await env.ask("uc", {"type": "msg.read", "conversation": team, "seq": 1}), "forbidden"
    )
    assert await state(env, team) == before


async def test_after_a_dissolve_the_groups_history_is_not_found(env, groups, team):
    await env.post(team, "ua")
    await groups.on("ua", team, "dissolve")

    assert_error(await env.ask("ua", {"type": "msg.history", "conversation": team}), "not_found")


# -- msg.history --------------------------------------------------------------------------


async def test_members_page_a_groups_history_newest_first(env, groups, team):
    posted = [await env.post(team, sender) for sender in ("ua", "ub", "uc", "ua")]

    first = await env.ask("uc", {"type": "msg.history", "conversation": team, "limit": 3})
    older = await env.ask(
        "uc", {"type": "msg.history", "conversation": team, "before_seq": 2, "limit": 3}
    )

    assert first == {
        "type": "msg.history.result",
        "id": "q1",
        "messages": posted[:0:-1],
        "has_more": True,
    }
    assert (older["messages"], older["has_more"]) == ([posted[0]], False)
    await groups.on("ua", team, "invite", users=["ud"])
    assert (
        len((await env.ask("ud", {"type": "msg.history", "conversation": team}))["messages"]) == 4
    )


# -- msg.recall ---------------------------------------------------------------------------


def recall(conversation: str, seq: int) -> dict[str, Any]:
    return {"type": "msg.recall", "conversation": conversation, "seq": seq}


@pytest.mark.parametrize("moderator", ["ua", "ub"], ids=["owner", "admin"])
async def test_a_moderator_recalls_anyones_message_at_any_time(env, groups, team, moderator):
    await groups.on("ua", team, "set_role", user="ub", role="admin")
    message = await env.post(team, "uc", text="spam")
    env.clock.now = message["ts"] / 1000 + WINDOW_S * 100

    reply = await env.ask(moderator, recall(team, 1), conn="c5")

    assert reply == {"type": "msg.recall.ok", "id": "q1"}
    [(data, key)] = notified(env)
    assert key == team
    assert sorted(data["users"]) == ["ua", "ub", "uc"]
    assert data["frame"] == {"type": "msg.recalled", "conversation": team, "seq": 1}
    assert data["skip"] == {"node": "gw-test", "conn": "c5"}
    [stored] = await env.ports.messages.read_after(team, 0, 10)
    assert stored.recalled is True and stored.content is None


async def test_the_owner_recalls_an_admins_message(env, groups, team):
    await groups.on("ua", team, "set_role", user="ub", role="admin")
    message = await env.post(team, "ub")
    env.clock.now = message["ts"] / 1000 + WINDOW_S + 1

    assert (await env.ask("ua", recall(team, 1)))["type"] == "msg.recall.ok"


async def test_a_plain_member_may_not_recall_anothers_message(env, team):
    await env.post(team, "ub")
    before = await state(env, team)

    assert_error(await env.ask("uc", recall(team, 1)), "forbidden")

    assert await state(env, team) == before


async def test_a_plain_member_recalls_their_own_within_the_window_only(env, team):
    first = await env.post(team, "uc")
    await env.post(team, "uc")
    env.clock.now = first["ts"] / 1000 + WINDOW_S
    assert (await env.ask("uc", recall(team, 1)))["type"] == "msg.recall.ok"

    env.clock.now += 10
    before = await state(env, team)
    assert_error(await env.ask("uc", recall(team, 2)), "forbidden")
    assert await state(env, team) == before


async def test_a_demoted_admin_loses_the_right_to_recall_at_once(env, groups, team):
    await groups.on("ua", team, "set_role", user="ub", role="admin")
    await env.post(team, "uc")
    await env.post(team, "uc")
    assert (await env.ask("ub", recall(team, 1)))["type"] == "msg.recall.ok"

    await groups.on("ua", team, "set_role", user="ub", role="member")
    env.bus.published.clear()

    assert_error(await env.ask("ub", recall(team, 2)), "forbidden")
    assert env.bus.published == []
    assert (await env.ports.messages.get(team, 2)).recalled is False


async def test_a_kicked_sender_may_not_recall_their_own_message(env, groups, team):
    await env.post(team, "uc")
    await groups.on("ua", team, "kick", user="uc")
    before = await state(env, team)

    assert_error(await env.ask("uc", recall(team, 1)), "forbidden")

    assert await state(env, team) == before


# -- msg.edit -----------------------------------------------------------------------------

FIXED = {"kind": "text", "text": "fixed"}


def edit(conversation: str, seq: int = 1) -> dict[str, Any]:
    return {"type": "msg.edit", "conversation": conversation, "seq": seq, "content": FIXED}


async def test_the_sender_edits_in_a_group_and_every_member_hears(env, team):
    await env.post(team, "uc", text="fxied")

    reply = await env.ask("uc", edit(team), conn="c4")

    assert reply == {"type": "msg.edit.ok", "id": "q1"}
    [(data, key)] = notified(env)
    assert key == team
    assert sorted(data["users"]) == ["ua", "ub", "uc"]
    assert data["frame"] == {
        "type": "msg.edited",
        "conversation": team,
        "seq": 1,
        "content": FIXED,
    }
    assert (await env.ports.messages.get(team, 1)).content == FIXED


@pytest.mark.parametrize("editor", ["ua", "ub"], ids=["owner", "admin"])
async def test_moderators_may_not_edit_anothers_message(env, groups, team, editor):
    await groups.on("ua", team, "set_role", user="ub", role="admin")
    await env.post(team, "uc")
    before = await state(env, team)

    assert_error(await env.ask(editor, edit(team)), "forbidden")

    assert await state(env, team) == before


async def test_a_kicked_sender_may_not_edit(env, groups, team):
    await env.post(team, "uc")
    await groups.on("ua", team, "kick", user="uc")
    before = await state(env, team)

    assert_error(await env.ask("uc", edit(team)), "forbidden")

    assert await state(env, team) == before
