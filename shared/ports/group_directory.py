"""Groups and their members: who owns, who administers, who is muted until when."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

ROLES = ("owner", "admin", "member")

# user -> the roles they must hold when a write happens: checked in the write's transaction,
# so a permission checked earlier cannot have been lost meanwhile (a demoted admin, a member
# promoted before a kick). A write whose guard fails changes nothing and returns False/None.
Guard = Mapping[str, tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class GroupRecord:
    """One live group; ``muted_all_until`` is a ms epoch (0: not muted); ``anyone_invites``:
    every member may invite, not only the owner and admins."""

    group_id: str
    name: str
    owner: str
    member_count: int
    muted_all_until: int
    anyone_invites: bool = False


@dataclass(frozen=True, slots=True)
class MemberRecord:
    """One member of a group; ``muted_until`` is a ms epoch (0: not muted)."""

    user: str
    role: str
    muted_until: int


class GroupDirectory(Protocol):
    """Durable groups. Every write on one group is atomic and serialized with the other
    writes on that group; a dissolved group is gone (every read finds nothing)."""

    async def create_group(
        self,
        group_id: str,
        name: str,
        owner: str,
        members: list[str],
        now_ms: int,
        anyone_invites: bool = False,
    ) -> None:
        """Create a group owned by ``owner`` with ``members`` (the owner excluded) as
        ``member``; the caller checks the member limit."""

    async def group(self, group_id: str) -> GroupRecord | None:
        """The group, or None when it does not exist (or was dissolved)."""

    async def member(self, group_id: str, user: str) -> MemberRecord | None:
        """``user``'s membership, or None when not a member of a live group."""

    async def members(self, group_id: str, after: str, limit: int) -> list[MemberRecord]:
        """At most ``limit`` members with user id above ``after`` ('' from the start), in
        code-point order of user id."""

    async def member_ids(self, group_id: str) -> list[str]:
        """Every member's user id, sorted."""

    async def groups_of(self, user: str) -> list[str]:
        """The ids of the live groups ``user`` is a member of, sorted."""

    async def add_members(
        self, group_id: str, users: list[str], limit: int, guard: Guard | None = None
    ) -> list[str] | None:
        """Add the ``users`` not yet members (as ``member``) and return them sorted; None and
        nothing added when the group would then have more than ``limit`` members or is gone.
        Concurrent adds never take a group past ``limit``."""

    async def remove_member(self, group_id: str, user: str, guard: Guard | None = None) -> bool:
        """Drop a non-owner member; False when there was no such member (or it is the owner)."""

    async def set_role(
        self, group_id: str, user: str, role: str, guard: Guard | None = None
    ) -> bool:
        """Make a non-owner member ``admin`` or ``member``; False when there is no such
        member (or it is the owner)."""

    async def set_member_mute(
        self, group_id: str, user: str, until_ms: int, guard: Guard | None = None
    ) -> bool:
        """Mute a member until ``until_ms`` (0 lifts it); False when not a member."""

    async def set_group_mute(
        self, group_id: str, until_ms: int, guard: Guard | None = None
    ) -> bool:
        """Mute the whole group until ``until_ms`` (0 lifts it); False when gone."""

    async def rename(self, group_id: str, name: str, guard: Guard | None = None) -> bool:
        """Give the group a new name; False when gone."""

    async def set_anyone_invites(
        self, group_id: str, value: bool, guard: Guard | None = None
    ) -> bool:
        """Let every member invite (True) or only the owner and admins; False when gone."""

    async def transfer(self, group_id: str, owner: str, new_owner: str) -> bool:
        """Hand ownership from ``owner`` (who becomes ``admin``) to the member ``new_owner``;
        False and nothing changed unless ``owner`` owns it and ``new_owner`` is a member."""

    async def dissolve(self, group_id: str, guard: Guard | None = None) -> bool:
        """Delete the group and its memberships; False when it did not exist."""
