"""A group's members, roles and mutes as one cached snapshot: checked on every group send and
read, and listed on every group fan-out, without loading the members from the database each
time.

Three layers: this process's memory, the shared cache (Redis in production) and the group
directory. A version token per group, in the shared cache, names the current snapshot; the
group function replaces the token after every change it commits, so the next reader anywhere
loads the change. A reader always settles the token before it loads, so a snapshot is never
older than the token it is filed under; tokens are random, so one lost with a Redis flush is
never reused for other contents.
"""

from __future__ import annotations

import json
import secrets
from collections import OrderedDict
from dataclasses import dataclass

from imfaas.shared.ports.cache import Cache
from imfaas.shared.ports.group_directory import GroupDirectory, GroupRecord, MemberRecord

# Members read per page while loading a snapshot from the directory.
LOAD_PAGE = 5000


@dataclass(frozen=True, slots=True)
class GroupSnapshot:
    """One group as of one version: the record and every member's role and mute."""

    group: GroupRecord
    members: dict[str, MemberRecord]
    member_ids: tuple[str, ...]

    def member(self, user: str) -> MemberRecord | None:
        """The user's membership, or None."""
        return self.members.get(user)


def _encode(snapshot: GroupSnapshot) -> str:
    g = snapshot.group
    return json.dumps(
        {
            "g": [g.group_id, g.name, g.owner, g.member_count, g.muted_all_until, g.anyone_invites],
            "m": [[m.user, m.role, m.muted_until] for m in snapshot.members.values()],
        },
        separators=(",", ":"),
    )


def _decode(text: str) -> GroupSnapshot:
    raw = json.loads(text)
    group = GroupRecord(*raw["g"])
    members = {user: MemberRecord(user, role, muted) for user, role, muted in raw["m"]}
    return GroupSnapshot(group, members, tuple(sorted(members)))


class GroupSnapshots:
    """Reads group snapshots through the caches; ``changed`` after every committed change."""

    def __init__(
        self,
        groups: GroupDirectory,
        cache: Cache,
        local_entries: int = 1024,
        shared_ttl_s: float = 3600.0,
    ) -> None:
        self._groups = groups
        self._cache = cache
        self._local: OrderedDict[str, tuple[str, GroupSnapshot]] = OrderedDict()
        self._local_entries = local_entries
        self._ttl = shared_ttl_s

    async def get(self, group_id: str) -> GroupSnapshot | None:
        """The group's current snapshot, or None when the group does not exist."""
        version = await self._cache.get(_version_key(group_id))
        if version is None:
            # Settled before loading: a change committed after this point replaces it.
            version = secrets.token_hex(8)
            await self._cache.set(_version_key(group_id), version, self._ttl)
        local = self._local.get(group_id)
        if local is not None and local[0] == version:
            self._local.move_to_end(group_id)
            return local[1]
        snapshot_key = f"group:snap:{group_id}:{version}"
        text = await self._cache.get(snapshot_key)
        if text is not None:
            snapshot: GroupSnapshot | None = _decode(text)
        else:
            snapshot = await self._load(group_id)
            if snapshot is None:
                # Nothing cached: a group that does not exist may be created under this id
                # only by a change, which replaces the token anyway.
                return None
            await self._cache.set(snapshot_key, _encode(snapshot), self._ttl)
        assert snapshot is not None
        self._local[group_id] = (version, snapshot)
        self._local.move_to_end(group_id)
        while len(self._local) > self._local_entries:
            self._local.popitem(last=False)
        return snapshot

    async def changed(self, group_id: str) -> None:
        """Retire the group's snapshot (call after the change is committed)."""
        await self._cache.set(_version_key(group_id), secrets.token_hex(8), self._ttl)

    async def _load(self, group_id: str) -> GroupSnapshot | None:
        group = await self._groups.group(group_id)
        if group is None:
            return None
        members: dict[str, MemberRecord] = {}
        after = ""
        while True:
            page = await self._groups.members(group_id, after, LOAD_PAGE)
            members.update((m.user, m) for m in page)
            if len(page) < LOAD_PAGE:
                break
            after = page[-1].user
        return GroupSnapshot(group, members, tuple(sorted(members)))


def _version_key(group_id: str) -> str:
    return f"group:ver:{group_id}"
