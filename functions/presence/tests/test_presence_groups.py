"""Groups in presence: with IMFAAS_PRESENCE_ANYONE off, sharing a group allows a subscription
as a friendship does; typing follows the group's membership as the group function changes it."""

from __future__ import annotations

from typing import Any

import pytest

from imfaas.functions.group.handler import create_function as create_group
from imfaas.shared.ports.route_table import Route
from imfaas.shared.ports.user_directory import UserRecord
from imfaas.shared.testing import identity, reply_frame

A1 = Route("ua", "da1", "gw-1", "a1", "web")
B1 = Route("ub", "db1", "gw-2", "b1", "web")
C1 = Route("uc", "dc1", "gw-3", "c1", "web")
D1 = Route("ud", "dd1", "gw-3", "d1", "web")


class Groups:
    """The group function on the presence function's ports; its events are dropped."""

    def __init__(self, env: Any) -> None:
        self.env = env
        self.fn = create_group(env.settings, env.ports)

    async def ok(self, actor: str, **frame: Any) -> dict[str, Any]:
        reply = await reply_frame(self.fn.handle, {"id": "g", **frame}, identity(actor))
        assert reply is not None and reply["type"] == f"{frame['type']}.ok", reply
        self.env.bus.published.clear()
        return reply

    async def new(self, owner: str, *members: str) -> str:
        """A group's id."""
        reply = await self.ok(owner, type="group.create", name="team", members=list(members))
        return reply["group_id"]


@pytest.fixture
async def groups(env) -> Groups:
    await env.ports.users.create_user(UserRecord("ud", "name-ud", "x", 0))
    return Groups(env)


async def subscribe(env, watcher: Route, users: list[str]) -> dict[str, Any]:
    await env.ports.routes.add(watcher, 60)
    frame = {"type": "presence.subscribe", "users": users}
    return await env.ask(watcher.user_id, frame, conn=watcher.conn_id, node=watcher.node_id)


def assert_forbidden(reply: dict[str, Any]) -> None:
    assert (reply["type"], reply["code"], reply["id"]) == ("error", "forbidden", "q1"), reply
    assert reply["message"]


async def watched_by_nobody(env, *routes: Route) -> None:
    """Nothing was subscribed: the users coming online is told to no one."""
    for route in routes:
        await env.socket(route, up=True)
    assert env.delivered() == []


# -- presence.subscribe -----------------------------------------------------------------


async def test_a_group_mate_who_is_not_a_friend_may_be_watched(env, groups):
    await groups.new("ua", "ub", "uc")
    await env.socket(B1, up=True, ts=5)

    reply = await subscribe(env, A1, ["ub", "uc"])

    assert reply == {
        "type": "presence.subscribe.ok",
        "id": "q1",
        "presence": {"ub": "online", "uc": "offline"},
    }
    await env.socket(C1, up=True, ts=7)
    assert env.delivered() == [
        ("gw-1", "a1", {"type": "presence", "user": "uc", "status": "online", "ts": 7})
    ]


async def test_a_plain_member_may_watch_the_owner(env, groups):
    await groups.new("ua", "ub", "uc")

    reply = await subscribe(env, C1, ["ua"])

    assert reply["presence"] == {"ua": "offline"}


async def test_neither_friend_nor_group_mate_is_forbidden_and_nothing_is_subscribed(env, groups):
    await groups.new("ua", "ub")
    await groups.new("uc", "ud")

    assert_forbidden(await subscribe(env, A1, ["uc"]))

    await watched_by_nobody(env, C1)


async def test_one_user_not_allowed_refuses_the_whole_request(env, groups):
    await groups.new("ua", "ub")  # ub: a group mate; uc: a stranger

    assert_forbidden(await subscribe(env, A1, ["ub", "uc"]))

    await watched_by_nobody(env, B1, C1)


async def test_a_friend_and_a_group_mate_together_are_allowed(env, groups):
    await env.ports.relations.request_friend("ua", "uc", "")
    await env.ports.relations.accept_friend("uc", "ua")
    await groups.new("ud", "ua")

    reply = await subscribe(env, A1, ["uc", "ud"])

    assert reply["presence"] == {"uc": "offline", "ud": "offline"}


async def test_a_group_shared_by_others_grants_nothing(env, groups):
    await groups.new("ub", "uc", "ud")  # ua is not in it

    assert_forbidden(await subscribe(env, A1, ["ub"]))


@pytest.mark.parametrize("how", ["kicked", "left", "dissolved"])
async def test_leaving_the_only_shared_group_ends_the_right(env, groups, how):
    group_id = await groups.new("ub", "ua", "uc")
    assert (await subscribe(env, A1, ["ub"]))["type"] == "presence.subscribe.ok"

    if how == "kicked":
        await groups.ok("ub", type="group.kick", group_id=group_id, user="ua")
    elif how == "left":
        await groups.ok("ua", type="group.leave", group_id=group_id)
    else:
        await groups.ok("ub", type="group.dissolve", group_id=group_id)

    assert_forbidden(await subscribe(env, Route("ua", "da2", "gw-4", "a2", "ios"), ["ub"]))


async def test_an_invitation_grants_the_right_at_once(env, groups):
    group_id = await groups.new("ub", "uc")
    assert_forbidden(await subscribe(env, A1, ["ub"]))

    await groups.ok("ub", type="group.invite", group_id=group_id, users=["ua"])

    assert (await subscribe(env, A1, ["ub"]))["presence"] == {"ub": "offline"}


# -- typing -----------------------------------------------------------------------------


async def typing(env, user: str, conversation: str) -> dict[str, Any]:
    return await env.ask(user, {"type": "typing", "conversation": conversation})


async def test_typing_follows_kicks_and_invitations_at_once(env, groups):
    group_id = await groups.new("ua", "ub", "uc")
    conv = f"g:{group_id}"
    assert (await typing(env, "uc", conv))["type"] == "typing.ok"
    [(data, _)] = env.notified()
    assert data["users"] == ["ua", "ub"]

    await groups.ok("ua", type="group.kick", group_id=group_id, user="uc")
    await groups.ok("ua", type="group.invite", group_id=group_id, users=["ud"])

    refused = await typing(env, "uc", conv)
    assert (refused["type"], refused["code"]) == ("error", "not_found")
    assert env.notified() == []
    assert (await typing(env, "ud", conv))["type"] == "typing.ok"
    [(data, key)] = env.notified()
    assert key == conv
    assert data["users"] == ["ua", "ub"]
    assert data["frame"] == {"type": "typing", "conversation": conv, "user": "ud"}


async def test_typing_in_a_dissolved_group_is_not_found(env, groups):
    group_id = await groups.new("ua", "ub")
    assert (await typing(env, "ub", f"g:{group_id}"))["type"] == "typing.ok"
    await groups.ok("ua", type="group.dissolve", group_id=group_id)

    refused = await typing(env, "ub", f"g:{group_id}")

    assert (refused["type"], refused["code"]) == ("error", "not_found")
    assert env.bus.published == []
