"""group.settings and anyone_invites: who may invite when the group allows every member."""

from __future__ import annotations

import pytest

from .test_group import assert_error, assert_refused


async def open_group(env) -> str:
    reply = await env.ask(
        "ua", {"type": "group.create", "name": "open", "members": ["ub"], "anyone_invites": True}
    )
    assert reply["type"] == "group.create.ok", reply
    env.bus.published.clear()
    return reply["group_id"]


async def test_a_group_created_open_lets_a_plain_member_invite(env):
    group_id = await open_group(env)

    reply = await env.ask("ub", {"type": "group.invite", "group_id": group_id, "users": ["uc"]})

    assert reply["type"] == "group.invite.ok"
    assert await env.ports.groups.member_ids(group_id) == ["ua", "ub", "uc"]
    info = await env.ask("uc", {"type": "group.info", "group_id": group_id})
    assert info["group"]["anyone_invites"] is True


async def test_by_default_a_plain_member_may_not_invite(env):
    group_id = await env.create()

    frame = {"type": "group.invite", "group_id": group_id, "users": ["ud"]}
    await assert_refused(env, "ub", frame, "forbidden", group_id)
    info = await env.ask("ub", {"type": "group.info", "group_id": group_id})
    assert info["group"]["anyone_invites"] is False


async def test_settings_by_an_admin_open_the_group_and_tell_every_member(env):
    group_id = await env.create()
    await env.ask(
        "ua", {"type": "group.set_role", "group_id": group_id, "user": "ub", "role": "admin"}
    )
    env.bus.published.clear()

    reply = await env.ask(
        "ub", {"type": "group.settings", "group_id": group_id, "anyone_invites": True}
    )

    assert reply["type"] == "group.settings.ok"
    [(data, key)] = env.events()
    assert key == f"g:{group_id}"
    assert data["users"] == ["ua", "ub", "uc"]
    assert data["frame"] == {
        "type": "group.event",
        "group_id": group_id,
        "kind": "settings",
        "anyone_invites": True,
        "by": "ub",
    }
    invited = await env.ask("uc", {"type": "group.invite", "group_id": group_id, "users": ["ud"]})
    assert invited["type"] == "group.invite.ok"


async def test_closing_an_open_group_takes_the_right_back(env):
    group_id = await open_group(env)
    await env.ask("ua", {"type": "group.settings", "group_id": group_id, "anyone_invites": False})
    env.bus.published.clear()

    frame = {"type": "group.invite", "group_id": group_id, "users": ["uc"]}
    await assert_refused(env, "ub", frame, "forbidden", group_id)


@pytest.mark.parametrize(
    ("user", "frame", "code"),
    [
        ("ub", {"anyone_invites": True}, "forbidden"),  # a plain member
        ("ud", {"anyone_invites": True}, "not_found"),  # an outsider
        ("ua", {"anyone_invites": "yes"}, "bad_request"),
        ("ua", {}, "bad_request"),
    ],
)
async def test_settings_refusals_change_nothing(env, user, frame, code):
    group_id = await env.create()

    await assert_refused(
        env, user, {"type": "group.settings", "group_id": group_id, **frame}, code, group_id
    )


async def test_create_with_a_non_boolean_anyone_invites_is_bad_request(env):
    reply = await env.ask(
        "ua", {"type": "group.create", "name": "x", "members": [], "anyone_invites": 1}
    )
    assert_error(reply, "bad_request")
    assert env.events() == []
