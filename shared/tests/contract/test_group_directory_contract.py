"""GroupDirectory contract: groups, roles, mutes, paging, the member limit under
concurrency, transfer and dissolve; durable."""

from __future__ import annotations

import asyncio

import pytest

from imfaas.shared.ports.group_directory import GroupRecord, MemberRecord


@pytest.fixture
async def groups(open_port):
    return await open_port("groups")


async def test_create_makes_the_creator_owner_and_the_rest_members(groups):
    await groups.create_group("g1", "team", "ua", ["ub", "uc", "ua"], 5)

    assert await groups.group("g1") == GroupRecord("g1", "team", "ua", 3, 0)
    assert await groups.members("g1", "", 10) == [
        MemberRecord("ua", "owner", 0),
        MemberRecord("ub", "member", 0),
        MemberRecord("uc", "member", 0),
    ]
    assert await groups.member("g1", "ub") == MemberRecord("ub", "member", 0)
    assert await groups.member("g1", "ux") is None
    assert await groups.member_ids("g1") == ["ua", "ub", "uc"]


async def test_an_unknown_group_reads_as_nothing(groups):
    assert await groups.group("nope") is None
    assert await groups.members("nope", "", 10) == []
    assert await groups.add_members("nope", ["ua"], 10) is None
    assert not await groups.set_group_mute("nope", 5)
    assert not await groups.dissolve("nope")


async def test_members_page_by_user_id_in_code_point_order(groups):
    users = ["u" + c for c in "ZaBb_"]
    await groups.create_group("g1", "n", "o", users, 1)
    ids = sorted([*users, "o"])

    first = await groups.members("g1", "", 4)
    rest = await groups.members("g1", first[-1].user, 4)

    assert [m.user for m in first + rest] == ids
    assert await groups.members("g1", ids[-1], 4) == []


async def test_add_members_skips_members_and_respects_the_limit(groups):
    await groups.create_group("g1", "n", "ua", ["ub"], 1)

    assert await groups.add_members("g1", ["ub", "ud", "uc"], 4) == ["uc", "ud"]
    assert await groups.add_members("g1", ["ue"], 4) is None
    assert await groups.member_ids("g1") == ["ua", "ub", "uc", "ud"]
    assert await groups.add_members("g1", ["ua", "ub"], 4) == []


async def test_concurrent_adds_never_pass_the_limit(groups):
    await groups.create_group("g1", "n", "owner", [], 1)

    results = await asyncio.gather(
        *(groups.add_members("g1", [f"u{i:02}", f"v{i:02}"], 9) for i in range(12))
    )

    added = [r for r in results if r is not None]
    assert len(added) == 4  # 1 + 4 x 2 = 9; every other add refused whole
    assert (await groups.group("g1")).member_count == 9
    assert sorted(await groups.member_ids("g1")) == sorted(
        ["owner", *(user for r in added for user in r)]
    )


async def test_roles_mutes_and_removal(groups):
    await groups.create_group("g1", "n", "ua", ["ub", "uc"], 1)

    assert await groups.set_role("g1", "ub", "admin")
    assert not await groups.set_role("g1", "ua", "member")  # the owner's role stays
    assert not await groups.set_role("g1", "ux", "admin")
    assert await groups.set_member_mute("g1", "uc", 777)
    assert not await groups.set_member_mute("g1", "ux", 777)
    assert await groups.set_group_mute("g1", 999)

    assert await groups.member("g1", "ub") == MemberRecord("ub", "admin", 0)
    assert await groups.member("g1", "uc") == MemberRecord("uc", "member", 777)
    assert (await groups.group("g1")).muted_all_until == 999

    assert await groups.remove_member("g1", "uc")
    assert not await groups.remove_member("g1", "uc")
    assert not await groups.remove_member("g1", "ua")  # never the owner
    assert await groups.member_ids("g1") == ["ua", "ub"]


async def test_transfer_swaps_owner_and_admin(groups):
    await groups.create_group("g1", "n", "ua", ["ub"], 1)

    assert not await groups.transfer("g1", "ub", "ua")  # not the owner
    assert not await groups.transfer("g1", "ua", "ux")  # not a member
    assert not await groups.transfer("g1", "ua", "ua")
    assert await groups.transfer("g1", "ua", "ub")

    assert (await groups.group("g1")).owner == "ub"
    assert await groups.members("g1", "", 10) == [
        MemberRecord("ua", "admin", 0),
        MemberRecord("ub", "owner", 0),
    ]


async def test_dissolve_removes_the_group_and_its_members(groups):
    await groups.create_group("g1", "n", "ua", ["ub"], 1)
    await groups.create_group("g2", "n", "ua", ["ub"], 1)

    assert await groups.dissolve("g1")

    assert await groups.group("g1") is None
    assert await groups.member("g1", "ub") is None
    assert await groups.member_ids("g1") == []
    assert await groups.add_members("g1", ["uc"], 10) is None
    assert (await groups.group("g2")).member_count == 2


async def test_groups_survive_a_reopen(open_port, groups):
    await groups.create_group("g1", "n", "ua", ["ub"], 1)
    await groups.set_role("g1", "ub", "admin")
    await open_port.close()

    reopened = await open_port("groups")

    assert await reopened.group("g1") == GroupRecord("g1", "n", "ua", 2, 0)
    assert await reopened.member("g1", "ub") == MemberRecord("ub", "admin", 0)


async def test_a_write_whose_guard_fails_changes_nothing(groups):
    await groups.create_group("g1", "n", "ua", ["ub", "uc"], 1)
    mod = ("owner", "admin")

    # ub is a plain member, not a moderator: none of these happen.
    assert await groups.add_members("g1", ["ud"], 10, guard={"ub": mod}) is None
    assert not await groups.remove_member("g1", "uc", guard={"ub": mod})
    assert not await groups.set_role("g1", "uc", "admin", guard={"ub": ("owner",)})
    assert not await groups.set_member_mute("g1", "uc", 9, guard={"ub": mod})
    assert not await groups.set_group_mute("g1", 9, guard={"ub": mod})
    assert not await groups.dissolve("g1", guard={"ub": ("owner",)})
    # The target's role is guarded too: an admin is not a plain member.
    await groups.set_role("g1", "uc", "admin")
    assert not await groups.remove_member("g1", "uc", guard={"ua": ("owner",), "uc": ("member",)})
    assert not await groups.set_member_mute("g1", "uc", 9, guard={"ux": mod})

    assert await groups.group("g1") == GroupRecord("g1", "n", "ua", 3, 0)
    assert await groups.members("g1", "", 10) == [
        MemberRecord("ua", "owner", 0),
        MemberRecord("ub", "member", 0),
        MemberRecord("uc", "admin", 0),
    ]
    # Guards that hold let the write through.
    assert await groups.add_members("g1", ["ud"], 10, guard={"ua": mod}) == ["ud"]
    assert await groups.remove_member("g1", "uc", guard={"ua": ("owner",), "uc": mod})
    assert await groups.dissolve("g1", guard={"ua": ("owner",)})


async def test_groups_of_lists_a_users_live_groups(groups):
    await groups.create_group("g1", "one", "ua", ["ub"], 5)
    await groups.create_group("g2", "two", "ub", ["uc"], 5)
    await groups.create_group("g0", "zero", "uc", ["ub"], 5)

    assert await groups.groups_of("ub") == ["g0", "g1", "g2"]
    assert await groups.groups_of("ua") == ["g1"]
    assert await groups.groups_of("nobody") == []

    assert await groups.remove_member("g1", "ub")
    assert await groups.dissolve("g0")
    assert await groups.groups_of("ub") == ["g2"]


async def test_rename_changes_the_name_under_a_guard(groups):
    await groups.create_group("g1", "old", "ua", ["ub"], 5)

    assert not await groups.rename("g1", "by member", guard={"ub": ("owner", "admin")})
    assert (await groups.group("g1")).name == "old"

    assert await groups.rename("g1", "new", guard={"ua": ("owner", "admin")})
    assert (await groups.group("g1")).name == "new"
    assert not await groups.rename("nope", "x")


async def test_anyone_invites_is_set_at_creation_and_changed_under_a_guard(groups):
    await groups.create_group("g1", "open", "ua", ["ub"], 5, anyone_invites=True)
    await groups.create_group("g2", "closed", "ua", ["ub"], 5)

    assert (await groups.group("g1")).anyone_invites is True
    assert (await groups.group("g2")).anyone_invites is False
    assert not await groups.set_anyone_invites("g2", True, guard={"ub": ("owner", "admin")})
    assert (await groups.group("g2")).anyone_invites is False
    assert await groups.set_anyone_invites("g2", True, guard={"ua": ("owner", "admin")})
    assert (await groups.group("g2")).anyone_invites is True
    assert not await groups.set_anyone_invites("nope", True)
