"""Protocol §4 group management end to end: create, info, members, invite, leave, kick,
set_role, mute, transfer and dissolve, the group.event each sends, and every refusal."""

from __future__ import annotations

import time

from .conftest import User


async def users_and_sockets(new_user, connect, n: int) -> tuple[list[str], list]:
    """``n`` fresh users, one socket each."""
    made: list[User] = [await new_user() for _ in range(n)]
    return [user_id for _, user_id, _ in made], [await connect(s) for _, _, s in made]


async def next_kind(conn, kind: str) -> dict:
    """The next group.event of ``kind`` on this socket (earlier group events skipped)."""
    while (event := await conn.next_event("group.event"))["kind"] != kind:
        pass
    return event


async def member_roles(conn, group_id: str) -> dict[str, str]:
    reply = await conn.request("group.members", group_id=group_id)
    return {m["user"]: m["role"] for m in reply["members"]}


async def test_group_lifecycle_and_its_events(new_user, connect) -> None:
    (alice, bob, carol, dave), (a, b, c, d) = await users_and_sockets(new_user, connect, 4)
    a2 = await connect((await new_user())[2])  # an outsider's socket hears nothing below

    created = await a.request("group.create", name="team", members=[bob, carol])
    group_id = created["group_id"]
    assert created["conversation"] == f"g:{group_id}"
    for conn in (b, c):
        event = await conn.next_event("group.event")
        assert event["group_id"] == group_id and event["kind"] == "joined"
        assert sorted(event["users"]) == sorted([alice, bob, carol])
    info = await c.request("group.info", group_id=group_id)
    assert info["group"] == {
        "group_id": group_id,
        "name": "team",
        "owner": alice,
        "member_count": 3,
        "muted_all": False,
        "anyone_invites": False,
    }

    await a.request("group.set_role", group_id=group_id, user=bob, role="admin")
    assert (await next_kind(c, "role"))["user"] == bob
    await b.request("group.invite", group_id=group_id, users=[dave])
    joined = await next_kind(d, "joined")
    assert (joined["kind"], joined["users"]) == ("joined", [dave])
    assert await member_roles(d, group_id) == {
        alice: "owner",
        bob: "admin",
        carol: "member",
        dave: "member",
    }
    page = await d.request("group.members", group_id=group_id, limit=2)
    assert len(page["members"]) == 2 and page["next"] == page["members"][1]["user"]

    until = int(time.time() * 1000) + 3_600_000
    await b.request("group.mute", group_id=group_id, user=carol, until=until)
    muted = await next_kind(c, "muted")
    assert (muted["kind"], muted["user"], muted["until"]) == ("muted", carol, until)
    await a.request("group.mute", group_id=group_id, until=until)
    assert (await d.request("group.info", group_id=group_id))["group"]["muted_all"] is True

    await b.request("group.kick", group_id=group_id, user=carol)
    kicked = await next_kind(c, "kicked")
    assert (kicked["kind"], kicked["user"], kicked["by"]) == ("kicked", carol, bob)
    await d.request("group.leave", group_id=group_id)
    left = await next_kind(b, "left")
    assert left["user"] == dave

    await a.request("group.transfer", group_id=group_id, user=bob)
    transferred = await next_kind(b, "transferred")
    assert transferred["user"] == bob
    assert await member_roles(a, group_id) == {alice: "admin", bob: "owner"}

    await b.request("group.dissolve", group_id=group_id)
    dissolved = await next_kind(a, "dissolved")
    assert dissolved["by"] == bob
    reply = await a.request_raw("group.info", group_id=group_id)
    assert (reply["type"], reply["code"]) == ("error", "not_found")
    assert a2.events.empty()


async def test_every_refusal_has_its_code_and_changes_nothing(new_user, connect) -> None:
    (alice, bob, carol, outsider), (a, b, c, o) = await users_and_sockets(new_user, connect, 4)
    group_id = (await a.request("group.create", name="team", members=[bob, carol]))["group_id"]
    for conn in (b, c):
        await next_kind(conn, "joined")
    before = await member_roles(a, group_id)
    until = int(time.time() * 1000) + 60_000

    refusals = [
        (a, "group.create", {"name": "", "members": []}, "bad_request"),
        (a, "group.create", {"name": "x" * 300, "members": []}, "too_large"),
        (a, "group.create", {"name": "n", "members": ["nobody-here"]}, "not_found"),
        (o, "group.info", {"group_id": group_id}, "not_found"),
        (a, "group.info", {"group_id": "no-such-group"}, "not_found"),
        (o, "group.members", {"group_id": group_id}, "not_found"),
        (a, "group.members", {"group_id": group_id, "limit": 0}, "bad_request"),
        (b, "group.invite", {"group_id": group_id, "users": [outsider]}, "forbidden"),
        (a, "group.invite", {"group_id": group_id, "users": ["nobody-here"]}, "not_found"),
        (a, "group.invite", {"group_id": group_id, "users": []}, "bad_request"),
        (a, "group.leave", {"group_id": group_id}, "forbidden"),
        (o, "group.leave", {"group_id": group_id}, "not_found"),
        (b, "group.kick", {"group_id": group_id, "user": carol}, "forbidden"),
        (a, "group.kick", {"group_id": group_id, "user": outsider}, "not_found"),
        (a, "group.kick", {"group_id": group_id, "user": alice}, "bad_request"),
        (b, "group.set_role", {"group_id": group_id, "user": carol, "role": "admin"}, "forbidden"),
        (
            a,
            "group.set_role",
            {"group_id": group_id, "user": carol, "role": "owner"},
            "bad_request",
        ),
        (
            a,
            "group.set_role",
            {"group_id": group_id, "user": outsider, "role": "admin"},
            "not_found",
        ),
        (b, "group.mute", {"group_id": group_id, "until": until}, "forbidden"),
        (a, "group.mute", {"group_id": group_id, "user": carol, "until": -5}, "bad_request"),
        (b, "group.transfer", {"group_id": group_id, "user": carol}, "forbidden"),
        (a, "group.transfer", {"group_id": group_id, "user": outsider}, "not_found"),
        (b, "group.dissolve", {"group_id": group_id}, "forbidden"),
        (o, "group.dissolve", {"group_id": group_id}, "not_found"),
    ]
    for conn, frame_type, fields, code in refusals:
        reply = await conn.request_raw(frame_type, **fields)
        assert (reply["type"], reply["code"]) == ("error", code), (frame_type, fields, reply)

    assert await member_roles(a, group_id) == before
    info = (await c.request("group.info", group_id=group_id))["group"]
    assert (info["owner"], info["member_count"], info["muted_all"]) == (alice, 3, False)
    for conn in (a, b, c, o):
        assert conn.events.empty(), conn.events
