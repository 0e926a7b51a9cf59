"""group.rename: owner or admin; every member hears ``renamed``; the cached snapshot the
other functions read is retired, and a refused rename changes nothing and tells no one."""

from __future__ import annotations

import pytest

from imfaas.events.schema_registry import data_problems
from imfaas.shared.group_snapshots import GroupSnapshots

from .test_group import assert_error, assert_refused


def rename(group_id: str, name: object = "new name") -> dict:
    return {"type": "group.rename", "group_id": group_id, "name": name}


async def version(env, group_id: str) -> str | None:
    """The token naming the group's current snapshot in the shared cache."""
    return await env.ports.cache.get(f"group:ver:{group_id}")


async def with_admin(env) -> str:
    """Group of owner ua, admin ub and member uc (events so far dropped)."""
    group_id = await env.create()
    await env.ask(
        "ua", {"type": "group.set_role", "group_id": group_id, "user": "ub", "role": "admin"}
    )
    env.bus.published.clear()
    return group_id


@pytest.mark.parametrize("user", ["ua", "ub"], ids=["owner", "admin"])
async def test_a_moderator_renames_and_every_member_hears(env, user):
    group_id = await with_admin(env)

    reply = await env.ask(user, rename(group_id, "Bakers"), conn="c9")

    assert reply == {"type": "group.rename.ok", "id": "q1"}
    assert data_problems("frames/group.rename.ok.json", reply) == []
    assert (await env.ports.groups.group(group_id)).name == "Bakers"
    info = await env.ask("uc", {"type": "group.info", "group_id": group_id})
    assert info["group"]["name"] == "Bakers"
    renamed = {"type": "group.event", "group_id": group_id, "kind": "renamed", "name": "Bakers"}
    told = {"users": ["ua", "ub", "uc"], "frame": renamed | {"by": user}}
    assert env.events() == [(told | {"skip": {"node": "gw-test", "conn": "c9"}}, f"g:{group_id}")]
    assert data_problems("frames/group.event.json", told["frame"]) == []
    assert data_problems("events/users.notified.json", env.events()[0][0]) == []


async def test_a_rename_keeps_members_roles_and_settings(env):
    group_id = await with_admin(env)
    members_before = await env.ports.groups.members(group_id, "", 100)
    group_before = await env.ports.groups.group(group_id)

    await env.ask("ua", rename(group_id, "other"))

    assert await env.ports.groups.members(group_id, "", 100) == members_before
    group_after = await env.ports.groups.group(group_id)
    assert (group_after.owner, group_after.member_count, group_after.anyone_invites) == (
        group_before.owner,
        group_before.member_count,
        group_before.anyone_invites,
    )


async def test_a_rename_retires_the_snapshot_the_other_functions_read(env):
    group_id = await env.create()
    reader = GroupSnapshots(env.ports.groups, env.ports.cache)  # as in send, fanout, history
    assert (await reader.get(group_id)).group.name == "team"
    token = await version(env, group_id)

    await env.ask("ua", rename(group_id, "renamed"))

    assert await version(env, group_id) not in (None, token)
    assert (await reader.get(group_id)).group.name == "renamed"


async def test_renaming_twice_and_to_the_same_name_each_tell_the_members(env):
    group_id = await env.create()

    for name in ("one", "two", "two"):
        assert (await env.ask("ua", rename(group_id, name)))["type"] == "group.rename.ok"

    assert [data["frame"]["name"] for data, _ in env.events()] == ["one", "two", "two"]
    assert (await env.ports.groups.group(group_id)).name == "two"


async def test_the_name_limit_counts_utf8_bytes_and_is_inclusive(make_group):
    env = await make_group(group_name_max_bytes=8)
    group_id = await env.create()

    await assert_refused(env, "ua", rename(group_id, "éééé!"), "too_large", group_id)
    assert (await env.ask("ua", rename(group_id, "éééé")))["type"] == "group.rename.ok"
    assert (await env.ports.groups.group(group_id)).name == "éééé"


@pytest.mark.parametrize(
    ("user", "fields", "code"),
    [
        ("uc", {}, "forbidden"),  # a plain member
        ("ud", {}, "not_found"),  # an outsider: as if there were no such group
        ("ua", {"group_id": "gnope"}, "not_found"),
        ("ua", {"name": ""}, "bad_request"),
        ("ua", {"name": "   "}, "bad_request"),
        ("ua", {"name": None}, "bad_request"),
        ("ua", {"name": 7}, "bad_request"),
        ("ua", {"name": "\ud800"}, "bad_request"),
        ("ua", {"name": "x" * 257}, "too_large"),
        ("ua", {"group_id": "a:b"}, "bad_request"),
    ],
    ids=[
        "member",
        "outsider",
        "unknown-group",
        "empty",
        "blank",
        "null",
        "number",
        "surrogate",
        "too-long",
        "bad-group-id",
    ],
)
async def test_refused_renames_change_nothing(env, user, fields, code):
    group_id = await with_admin(env)
    token = await version(env, group_id)

    await assert_refused(env, user, {**rename(group_id), **fields}, code, group_id)

    assert (await env.ports.groups.group(group_id)).name == "team"
    assert await version(env, group_id) == token  # the cached snapshot stays valid


@pytest.mark.parametrize("missing", ["name", "group_id"])
async def test_a_rename_without_a_field_is_bad_request(env, missing):
    group_id = await env.create()
    frame = rename(group_id)
    del frame[missing]

    await assert_refused(env, "ua", frame, "bad_request", group_id)


async def test_a_former_admin_or_member_may_not_rename(env):
    group_id = await with_admin(env)
    await env.ask("ua", {"type": "group.kick", "group_id": group_id, "user": "ub"})
    await env.ask("uc", {"type": "group.leave", "group_id": group_id})
    env.bus.published.clear()

    await assert_refused(env, "ub", rename(group_id), "not_found", group_id)
    await assert_refused(env, "uc", rename(group_id), "not_found", group_id)


async def test_a_dissolved_group_cannot_be_renamed(env):
    group_id = await env.create()
    await env.ask("ua", {"type": "group.dissolve", "group_id": group_id})
    env.bus.published.clear()

    assert_error(await env.ask("ua", rename(group_id)), "not_found")
    assert env.events() == []
    assert await env.ports.groups.group(group_id) is None


async def test_an_admin_demoted_between_check_and_write_is_refused(env):
    group_id = await with_admin(env)
    groups = env.ports.groups
    write = groups.rename

    async def demote_then_rename(gid, name, guard=None):
        # The owner demotes ub after ub's rename was checked and before it is written.
        await groups.set_role(gid, "ub", "member")
        return await write(gid, name, guard)

    groups.rename = demote_then_rename  # type: ignore[method-assign]
    try:
        reply = await env.ask("ub", rename(group_id, "hijacked"))
    finally:
        groups.rename = write  # type: ignore[method-assign]

    assert_error(reply, "forbidden")
    assert (await groups.group(group_id)).name == "team"
    assert env.events() == []
