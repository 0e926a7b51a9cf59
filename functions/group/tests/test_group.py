"""Unit tests of the group function: every request's success, its failure codes, and that a
refused request changes nothing and tells no one."""

from __future__ import annotations

import asyncio

import pytest

from imfaas.shared.ports.group_directory import MemberRecord


def assert_error(reply, code: str) -> None:
    assert reply["type"] == "error", reply
    assert reply["code"] == code
    assert reply["message"]


async def assert_refused(env, user: str, frame: dict, code: str, group_id: str) -> None:
    """The request gets ``code``; the group is unchanged and no event went out."""
    before = await env.snapshot(group_id)
    assert_error(await env.ask(user, frame), code)
    assert await env.snapshot(group_id) == before
    assert env.events() == []


async def test_create_makes_the_caller_owner_and_tells_every_member(env):
    reply = await env.ask(
        "ua", {"type": "group.create", "name": "team", "members": ["ub", "uc", "ub"]}
    )

    group_id = reply["group_id"]
    assert reply == {
        "type": "group.create.ok",
        "id": "q1",
        "group_id": group_id,
        "conversation": f"g:{group_id}",
    }
    assert ":" not in group_id
    assert await env.ports.groups.members(group_id, "", 10) == [
        MemberRecord("ua", "owner", 0),
        MemberRecord("ub", "member", 0),
        MemberRecord("uc", "member", 0),
    ]
    [(data, key)] = env.events()
    assert key == f"g:{group_id}"
    assert data["users"] == ["ua", "ub", "uc"]
    assert data["frame"] == {
        "type": "group.event",
        "group_id": group_id,
        "kind": "joined",
        "users": ["ua", "ub", "uc"],
    }
    assert data["skip"] == {"node": "gw-test", "conn": "c1"}


async def test_create_alone_and_listing_oneself_is_fine(env):
    reply = await env.ask("ua", {"type": "group.create", "name": "me", "members": ["ua"]})

    assert (await env.ports.groups.group(reply["group_id"])).member_count == 1


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ({"members": ["ub"]}, "bad_request"),
        ({"name": "", "members": ["ub"]}, "bad_request"),
        ({"name": "  ", "members": ["ub"]}, "bad_request"),
        ({"name": 5, "members": ["ub"]}, "bad_request"),
        ({"name": "n"}, "bad_request"),
        ({"name": "n", "members": "ub"}, "bad_request"),
        ({"name": "n", "members": ["a:b"]}, "bad_request"),
        ({"name": "n", "members": [7]}, "bad_request"),
        ({"name": "\ud800", "members": []}, "bad_request"),
        ({"name": "x" * 257, "members": []}, "too_large"),
        ({"name": "n", "members": ["ub", "ghost"]}, "not_found"),
    ],
)
async def test_create_refusals_create_nothing(env, frame, code):
    assert_error(await env.ask("ua", {"type": "group.create", **frame}), code)

    assert env.events() == []
    assert env.bus.published == []


async def test_create_beyond_the_member_limit_is_conflict(make_group):
    env = await make_group(group_member_limit=3)

    assert_error(
        await env.ask("ua", {"type": "group.create", "name": "n", "members": ["ub", "uc", "ud"]}),
        "conflict",
    )
    ok = await env.ask("ua", {"type": "group.create", "name": "n", "members": ["ub", "uc"]})
    assert ok["type"] == "group.create.ok"


async def test_info_for_members_only(env):
    group_id = await env.create()

    reply = await env.ask("uc", {"type": "group.info", "group_id": group_id})

    assert reply["group"] == {
        "group_id": group_id,
        "name": "team",
        "owner": "ua",
        "member_count": 3,
        "muted_all": False,
        "anyone_invites": False,
    }
    # An outsider cannot tell this group from one that does not exist.
    assert_error(await env.ask("ud", {"type": "group.info", "group_id": group_id}), "not_found")
    assert_error(await env.ask("ua", {"type": "group.info", "group_id": "gnope"}), "not_found")
    assert_error(await env.ask("ua", {"type": "group.info", "group_id": "a:b"}), "bad_request")
    assert_error(await env.ask("ua", {"type": "group.info"}), "bad_request")


async def test_members_pages_by_user_id(env):
    group_id = await env.create(members=("ub", "uc", "ud", "ue"))

    first = await env.ask("ub", {"type": "group.members", "group_id": group_id, "limit": 2})
    second = await env.ask(
        "ub", {"type": "group.members", "group_id": group_id, "after": first["next"], "limit": 2}
    )
    last = await env.ask(
        "ub", {"type": "group.members", "group_id": group_id, "after": second["next"], "limit": 2}
    )

    assert first["members"] == [
        {"user": "ua", "role": "owner", "muted_until": 0},
        {"user": "ub", "role": "member", "muted_until": 0},
    ]
    assert first["next"] == "ub"
    assert [m["user"] for m in second["members"]] == ["uc", "ud"]
    assert last == {
        "type": "group.members.ok",
        "id": "q1",
        "members": [{"user": "ue", "role": "member", "muted_until": 0}],
        "next": None,
    }
    whole = await env.ask("ub", {"type": "group.members", "group_id": group_id})
    assert len(whole["members"]) == 5 and whole["next"] is None


@pytest.mark.parametrize(
    ("extra", "code"),
    [
        ({"limit": 0}, "bad_request"),
        ({"limit": "2"}, "bad_request"),
        ({"after": ""}, "bad_request"),
    ],
)
async def test_members_bad_page_is_bad_request(env, extra, code):
    group_id = await env.create()
    assert_error(
        await env.ask("ua", {"type": "group.members", "group_id": group_id, **extra}), code
    )


async def test_members_of_a_group_one_is_not_in_is_not_found(env):
    group_id = await env.create()
    assert_error(await env.ask("ud", {"type": "group.members", "group_id": group_id}), "not_found")


async def test_invite_by_owner_or_admin_adds_and_tells_everyone(env):
    group_id = await env.create()
    await env.ask(
        "ua", {"type": "group.set_role", "group_id": group_id, "user": "ub", "role": "admin"}
    )
    env.bus.published.clear()

    reply = await env.ask(
        "ub", {"type": "group.invite", "group_id": group_id, "users": ["ud", "uc"]}
    )

    assert reply["type"] == "group.invite.ok"
    assert await env.ports.groups.member_ids(group_id) == ["ua", "ub", "uc", "ud"]
    [(data, _)] = env.events()
    assert data["users"] == ["ua", "ub", "uc", "ud"]
    assert data["frame"] == {
        "type": "group.event",
        "group_id": group_id,
        "kind": "joined",
        "users": ["ud"],
    }


async def test_inviting_members_again_changes_nothing_and_tells_no_one(env):
    group_id = await env.create()
    assert (await env.ask("ua", {"type": "group.invite", "group_id": group_id, "users": ["ub"]}))[
        "type"
    ] == "group.invite.ok"
    assert env.events() == []


async def test_invite_refusals(env):
    group_id = await env.create()
    invite = {"type": "group.invite", "group_id": group_id, "users": ["ud"]}
    await assert_refused(env, "ub", invite, "forbidden", group_id)  # a plain member
    await assert_refused(env, "ue", invite, "not_found", group_id)  # an outsider
    await assert_refused(env, "ua", {**invite, "users": ["ud", "ghost"]}, "not_found", group_id)
    await assert_refused(env, "ua", {**invite, "users": []}, "bad_request", group_id)
    await assert_refused(env, "ua", {**invite, "group_id": "gnope"}, "not_found", group_id)


async def test_invite_beyond_the_member_limit_is_conflict_and_adds_nobody(make_group):
    env = await make_group(group_member_limit=4)
    group_id = await env.create()

    await assert_refused(
        env,
        "ua",
        {"type": "group.invite", "group_id": group_id, "users": ["ud", "ue"]},
        "conflict",
        group_id,
    )
    ok = await env.ask("ua", {"type": "group.invite", "group_id": group_id, "users": ["ud"]})
    assert ok["type"] == "group.invite.ok"


async def test_leave_tells_the_rest_and_the_leaver(env):
    group_id = await env.create()

    assert (await env.ask("uc", {"type": "group.leave", "group_id": group_id}))[
        "type"
    ] == "group.leave.ok"

    assert await env.ports.groups.member_ids(group_id) == ["ua", "ub"]
    [(data, _)] = env.events()
    assert data["users"] == ["ua", "ub", "uc"]  # the leaver's other devices learn too
    assert data["frame"] == {
        "type": "group.event",
        "group_id": group_id,
        "kind": "left",
        "user": "uc",
    }
    assert_error(await env.ask("uc", {"type": "group.leave", "group_id": group_id}), "not_found")


async def test_the_owner_cannot_leave_before_transferring(env):
    group_id = await env.create()
    await assert_refused(
        env, "ua", {"type": "group.leave", "group_id": group_id}, "forbidden", group_id
    )


async def test_owner_kicks_anyone_else_admin_only_members(env):
    group_id = await env.create(members=("ub", "uc", "ud"))
    await env.ask(
        "ua", {"type": "group.set_role", "group_id": group_id, "user": "ub", "role": "admin"}
    )
    await env.ask(
        "ua", {"type": "group.set_role", "group_id": group_id, "user": "uc", "role": "admin"}
    )
    env.bus.published.clear()

    await assert_refused(
        env, "ub", {"type": "group.kick", "group_id": group_id, "user": "uc"}, "forbidden", group_id
    )
    await assert_refused(
        env, "ub", {"type": "group.kick", "group_id": group_id, "user": "ua"}, "forbidden", group_id
    )
    await assert_refused(
        env, "ud", {"type": "group.kick", "group_id": group_id, "user": "ub"}, "forbidden", group_id
    )
    assert (await env.ask("ub", {"type": "group.kick", "group_id": group_id, "user": "ud"}))[
        "type"
    ] == "group.kick.ok"
    [(data, _)] = env.events()
    assert data["users"] == ["ua", "ub", "uc", "ud"]
    assert data["frame"] == {
        "type": "group.event",
        "group_id": group_id,
        "kind": "kicked",
        "user": "ud",
        "by": "ub",
    }
    assert (await env.ask("ua", {"type": "group.kick", "group_id": group_id, "user": "uc"}))[
        "type"
    ] == "group.kick.ok"
    assert await env.ports.groups.member_ids(group_id) == ["ua", "ub"]


async def test_kick_refusals(env):
    group_id = await env.create()
    kick = {"type": "group.kick", "group_id": group_id}
    await assert_refused(env, "ua", {**kick, "user": "ud"}, "not_found", group_id)  # not a member
    await assert_refused(env, "ua", {**kick, "user": "ua"}, "bad_request", group_id)
    await assert_refused(env, "ua", kick, "bad_request", group_id)
    await assert_refused(env, "ud", {**kick, "user": "ub"}, "not_found", group_id)


async def test_set_role_owner_only(env):
    group_id = await env.create()

    assert (
        await env.ask(
            "ua", {"type": "group.set_role", "group_id": group_id, "user": "ub", "role": "admin"}
        )
    )["type"] == "group.set_role.ok"

    assert await env.ports.groups.member(group_id, "ub") == MemberRecord("ub", "admin", 0)
    [(data, _)] = env.events()
    assert data["frame"] == {
        "type": "group.event",
        "group_id": group_id,
        "kind": "role",
        "user": "ub",
        "role": "admin",
    }
    env.bus.published.clear()
    role = {"type": "group.set_role", "group_id": group_id}
    await assert_refused(env, "ub", {**role, "user": "uc", "role": "admin"}, "forbidden", group_id)
    await assert_refused(
        env, "ua", {**role, "user": "uc", "role": "owner"}, "bad_request", group_id
    )
    await assert_refused(
        env, "ua", {**role, "user": "ua", "role": "member"}, "bad_request", group_id
    )
    await assert_refused(env, "ua", {**role, "user": "ud", "role": "admin"}, "not_found", group_id)
    # Setting the role a member already has changes nothing and tells no one.
    assert (await env.ask("ua", {**role, "user": "ub", "role": "admin"}))[
        "type"
    ] == "group.set_role.ok"
    assert env.events() == []


async def test_mute_a_member_and_lift_it(env):
    group_id = await env.create()
    until = env.now[0] + 60_000

    await env.ask("ua", {"type": "group.mute", "group_id": group_id, "user": "ub", "until": until})

    members = (await env.ask("uc", {"type": "group.members", "group_id": group_id}))["members"]
    assert members[1] == {"user": "ub", "role": "member", "muted_until": until}
    [(data, _)] = env.events()
    assert data["frame"] == {
        "type": "group.event",
        "group_id": group_id,
        "kind": "muted",
        "user": "ub",
        "until": until,
        "by": "ua",
    }
    env.now[0] = until + 1  # an expired mute reads as none
    members = (await env.ask("uc", {"type": "group.members", "group_id": group_id}))["members"]
    assert members[1]["muted_until"] == 0
    await env.ask("ua", {"type": "group.mute", "group_id": group_id, "user": "ub", "until": 0})
    assert (await env.ports.groups.member(group_id, "ub")).muted_until == 0


async def test_mute_the_whole_group(env):
    group_id = await env.create()
    await env.ask(
        "ua", {"type": "group.set_role", "group_id": group_id, "user": "ub", "role": "admin"}
    )

    await env.ask("ub", {"type": "group.mute", "group_id": group_id, "until": env.now[0] + 1000})

    assert (await env.ask("uc", {"type": "group.info", "group_id": group_id}))["group"][
        "muted_all"
    ] is True
    await env.ask("ua", {"type": "group.mute", "group_id": group_id, "until": 0})
    assert (await env.ask("uc", {"type": "group.info", "group_id": group_id}))["group"][
        "muted_all"
    ] is False


async def test_mute_refusals(env):
    group_id = await env.create()
    await env.ask(
        "ua", {"type": "group.set_role", "group_id": group_id, "user": "ub", "role": "admin"}
    )
    env.bus.published.clear()
    mute = {"type": "group.mute", "group_id": group_id, "until": env.now[0] + 1000}
    await assert_refused(env, "uc", mute, "forbidden", group_id)
    await assert_refused(env, "uc", {**mute, "user": "ub"}, "forbidden", group_id)
    await assert_refused(env, "ub", {**mute, "user": "ua"}, "forbidden", group_id)
    await assert_refused(env, "ua", {**mute, "user": "ud"}, "not_found", group_id)
    await assert_refused(env, "ud", mute, "not_found", group_id)
    await assert_refused(env, "ua", {**mute, "until": -1}, "bad_request", group_id)
    await assert_refused(env, "ua", {**mute, "until": True}, "bad_request", group_id)
    await assert_refused(
        env, "ua", {"type": "group.mute", "group_id": group_id}, "bad_request", group_id
    )


async def test_transfer_makes_the_old_owner_admin(env):
    group_id = await env.create()

    assert (await env.ask("ua", {"type": "group.transfer", "group_id": group_id, "user": "uc"}))[
        "type"
    ] == "group.transfer.ok"

    info = await env.ask("ub", {"type": "group.info", "group_id": group_id})
    assert info["group"]["owner"] == "uc"
    assert await env.ports.groups.member(group_id, "ua") == MemberRecord("ua", "admin", 0)
    [(data, _)] = env.events()
    assert data["frame"] == {
        "type": "group.event",
        "group_id": group_id,
        "kind": "transferred",
        "user": "uc",
        "by": "ua",
    }
    # Now the old owner may leave.
    assert (await env.ask("ua", {"type": "group.leave", "group_id": group_id}))[
        "type"
    ] == "group.leave.ok"


async def test_transfer_refusals(env):
    group_id = await env.create()
    transfer = {"type": "group.transfer", "group_id": group_id}
    await assert_refused(env, "ub", {**transfer, "user": "uc"}, "forbidden", group_id)
    await assert_refused(env, "ua", {**transfer, "user": "ud"}, "not_found", group_id)
    await assert_refused(env, "ua", {**transfer, "user": "ua"}, "bad_request", group_id)
    await assert_refused(env, "ud", {**transfer, "user": "ub"}, "not_found", group_id)


async def test_dissolve_owner_only_then_the_group_is_gone(env):
    group_id = await env.create()
    await assert_refused(
        env, "ub", {"type": "group.dissolve", "group_id": group_id}, "forbidden", group_id
    )

    assert (await env.ask("ua", {"type": "group.dissolve", "group_id": group_id}))[
        "type"
    ] == "group.dissolve.ok"

    [(data, _)] = env.events()
    assert data["users"] == ["ua", "ub", "uc"]
    assert data["frame"] == {
        "type": "group.event",
        "group_id": group_id,
        "kind": "dissolved",
        "by": "ua",
    }
    for frame in ({"type": "group.info"}, {"type": "group.dissolve"}, {"type": "group.leave"}):
        assert_error(await env.ask("ua", {**frame, "group_id": group_id}), "not_found")


async def test_concurrent_invites_at_the_limit_add_exactly_up_to_it(make_group):
    users = tuple(f"u{i:02}" for i in range(12))
    env = await make_group(users=users, group_member_limit=5)
    group_id = await env.create(owner="u00", members=())

    replies = await asyncio.gather(
        *(
            env.ask("u00", {"type": "group.invite", "group_id": group_id, "users": [user]})
            for user in users[1:]
        )
    )

    ok = [r for r in replies if r["type"] == "group.invite.ok"]
    assert len(ok) == 4
    assert {r["code"] for r in replies if r["type"] == "error"} == {"conflict"}
    assert (await env.ports.groups.group(group_id)).member_count == 5
    joined = [user for data, _ in env.events() for user in data["frame"]["users"]]
    assert sorted(joined) == sorted(set(await env.ports.groups.member_ids(group_id)) - {"u00"})


async def test_a_right_lost_between_check_and_write_refuses_and_changes_nothing(env):
    group_id = await env.create(members=("ub", "uc"))
    await env.ask(
        "ua", {"type": "group.set_role", "group_id": group_id, "user": "ub", "role": "admin"}
    )
    env.bus.published.clear()
    groups = env.ports.groups
    read_members = groups.member_ids

    async def demote_then_read(gid: str) -> list[str]:
        # The owner demotes ub after ub's kick was checked and before it is written.
        await groups.set_role(gid, "ub", "member")
        return await read_members(gid)

    groups.member_ids = demote_then_read  # type: ignore[method-assign]
    try:
        reply = await env.ask("ub", {"type": "group.kick", "group_id": group_id, "user": "uc"})
    finally:
        groups.member_ids = read_members  # type: ignore[method-assign]

    assert_error(reply, "forbidden")
    assert await groups.member_ids(group_id) == ["ua", "ub", "uc"]
    assert env.events() == []
