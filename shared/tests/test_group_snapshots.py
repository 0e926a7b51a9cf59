"""GroupSnapshots: cached per process and in the shared cache, retired by a version token."""

from __future__ import annotations

from typing import Any

import pytest

from imfaas.shared import group_snapshots
from imfaas.shared.adapters.cache_memory import MemoryCache
from imfaas.shared.conversation_members import ConversationMembers, check_may_post
from imfaas.shared.errors import Forbidden, NotFound
from imfaas.shared.group_snapshots import GroupSnapshots
from imfaas.shared.ports.group_directory import GroupRecord, MemberRecord
from imfaas.shared.testing import port_sets


class CountingDirectory:
    """Passes every call to the real directory and counts the reads."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.reads = 0

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        if name in ("group", "members", "member", "member_ids"):

            async def counted(*args: Any, **kwargs: Any) -> Any:
                self.reads += 1
                return await attr(*args, **kwargs)

            return counted
        return attr


@pytest.fixture
async def directory(tmp_path):
    async with port_sets(tmp_path) as new_ports:
        env = await new_ports()
        await env.ports.groups.create_group("g1", "team", "ua", ["ub", "uc"], 1)
        yield CountingDirectory(env.ports.groups)


async def test_a_snapshot_holds_the_group_and_every_member(directory):
    snapshots = GroupSnapshots(directory, MemoryCache())

    snap = await snapshots.get("g1")

    assert snap is not None
    assert snap.group == GroupRecord("g1", "team", "ua", 3, 0)
    assert snap.member_ids == ("ua", "ub", "uc")
    assert snap.member("ua") == MemberRecord("ua", "owner", 0)
    assert snap.member("ux") is None
    assert await snapshots.get("nope") is None


async def test_reads_after_the_first_touch_no_database(directory):
    snapshots = GroupSnapshots(directory, MemoryCache())
    await snapshots.get("g1")
    reads = directory.reads

    for _ in range(50):
        await snapshots.get("g1")

    assert directory.reads == reads


async def test_a_change_is_seen_after_changed_and_not_before(directory):
    snapshots = GroupSnapshots(directory, MemoryCache())
    await snapshots.get("g1")

    await directory.inner.remove_member("g1", "uc")
    assert "uc" in (await snapshots.get("g1")).member_ids  # not announced yet

    await snapshots.changed("g1")
    assert (await snapshots.get("g1")).member_ids == ("ua", "ub")


async def test_processes_sharing_a_cache_load_once_and_see_each_others_changes(directory):
    shared = MemoryCache()
    first, second = GroupSnapshots(directory, shared), GroupSnapshots(directory, shared)
    await first.get("g1")
    reads = directory.reads

    assert (await second.get("g1")).member_ids == ("ua", "ub", "uc")
    assert directory.reads == reads  # the second process read the shared snapshot

    await directory.inner.set_member_mute("g1", "ub", 99)
    await first.changed("g1")

    assert (await second.get("g1")).member("ub") == MemberRecord("ub", "member", 99)


async def test_a_flushed_cache_never_brings_back_a_stale_local_snapshot(directory):
    cache = MemoryCache()
    reader, writer = GroupSnapshots(directory, cache), GroupSnapshots(directory, cache)
    await reader.get("g1")

    await directory.inner.remove_member("g1", "uc")
    await writer.changed("g1")
    # Redis restarted empty: the version that announced the change is lost.
    for key in ("group:ver:g1",):
        await cache.delete(key)

    assert (await reader.get("g1")).member_ids == ("ua", "ub")


async def test_large_groups_load_page_by_page(directory, monkeypatch):
    monkeypatch.setattr(group_snapshots, "LOAD_PAGE", 2)
    added = await directory.inner.add_members("g1", [f"m{i:02}" for i in range(7)], 100)
    assert added is not None

    snap = await GroupSnapshots(directory, MemoryCache()).get("g1")

    assert len(snap.member_ids) == 10
    assert snap.group.member_count == 10


async def test_conversation_members_for_groups(directory):
    members = ConversationMembers(GroupSnapshots(directory, MemoryCache()))

    assert await members.members_of("g:g1") == ["ua", "ub", "uc"]
    assert await members.require_member("g:g1", "ub") == ["ua", "ub", "uc"]
    with pytest.raises(Forbidden):
        await members.require_member("g:g1", "ux")
    with pytest.raises(NotFound):
        await members.require_member("g:nope", "ua")
    assert await members.moderates("g:g1", "ua")
    assert not await members.moderates("g:g1", "ub")
    assert not await members.moderates("d:ua:ub", "ua")


async def test_direct_conversations_need_no_group_port():
    members = ConversationMembers(None)

    assert await members.require_poster("d:ua:ub", "ua", 0) == ["ua", "ub"]
    with pytest.raises(Forbidden):
        await members.require_member("d:ua:ub", "uc")
    with pytest.raises(NotFound):
        await members.members_of("g:g1")


@pytest.mark.parametrize(
    ("role", "muted_until", "muted_all_until", "allowed"),
    [
        ("member", 0, 0, True),
        ("member", 2000, 0, False),  # muted until later
        ("member", 1000, 0, True),  # the mute ended at now
        ("member", 0, 2000, False),  # the whole group muted
        ("admin", 0, 2000, True),  # moderators speak in a muted group
        ("owner", 0, 2000, True),
        ("admin", 2000, 0, False),  # a muted admin is muted
    ],
)
def test_who_may_post(role, muted_until, muted_all_until, allowed):
    group = GroupRecord("g1", "team", "ua", 3, muted_all_until)
    member = MemberRecord("ub", role, muted_until)

    if allowed:
        check_may_post(group, member, 1000)
    else:
        with pytest.raises(Forbidden):
            check_may_post(group, member, 1000)
