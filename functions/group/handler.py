"""The group function: group management (protocol §4).

A caller who is not a member of a group (or asks about one that does not exist) gets
``not_found`` for every request on it, so a group's existence does not leak; a member whose
role does not allow the request gets ``forbidden``.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

from cloudevents.http import CloudEvent

from imfaas.events import catalog
from imfaas.events.codec import new_event
from imfaas.functions.group import group_requests as req
from imfaas.functions.group.config import GroupConfig
from imfaas.functions.group.group_rules import (
    MODERATORS,
    inviters,
    require_moderator,
    require_outranks,
    require_owner,
)
from imfaas.shared.adapter_factory import Ports
from imfaas.shared.errors import Conflict, Forbidden, NotFound
from imfaas.shared.function_catalog import spec_of
from imfaas.shared.function_runtime import FrameContext, FrameRouter, FunctionBase
from imfaas.shared.group_snapshots import GroupSnapshots
from imfaas.shared.ports.group_directory import GroupRecord, Guard, MemberRecord
from imfaas.shared.settings import Settings

SOURCE = "/imfaas/functions/group"
NEEDS = ("users", "groups", "cache", "bus")


def _now_ms() -> int:
    return int(time.time() * 1000)


class GroupFunction(FunctionBase):
    """Serves ``group.*``; tells the members of every change by users.notified."""

    name = "group"

    def __init__(
        self, config: GroupConfig, ports: Ports, clock: Callable[[], int] = _now_ms
    ) -> None:
        self._config = config
        self._ports = ports
        self._clock = clock
        self._snapshots = GroupSnapshots(ports.groups, ports.cache)
        self._router = FrameRouter(SOURCE)
        for frame_type in spec_of(self.name).frames:
            self._router.add(frame_type, getattr(self, frame_type.removeprefix("group.")))

    async def handle(self, event: CloudEvent) -> CloudEvent | None:
        """Serve one forwarded frame."""
        return await self._router.dispatch(event)

    async def create(self, ctx: FrameContext, frame: dict[str, Any]) -> dict[str, Any]:
        """A new group owned by the caller; the members (and the owner) get ``joined``."""
        name = req.read_name(frame, self._config.name_max_bytes)
        others = [u for u in req.read_users(frame, "members", allow_empty=True) if u != ctx.user_id]
        anyone_invites = req.read_flag(frame, "anyone_invites", default=False)
        await self._require_users(others)
        if len(others) + 1 > self._config.member_limit:
            raise Conflict(f"a group has at most {self._config.member_limit} members")
        group_id = "g" + secrets.token_hex(8)
        await self._ports.groups.create_group(
            group_id, name, ctx.user_id, others, self._clock(), anyone_invites
        )
        members = sorted([ctx.user_id, *others])
        await self._notify(ctx, group_id, members, "joined", users=members)
        return {"type": "group.create.ok", "group_id": group_id, "conversation": f"g:{group_id}"}

    async def info(self, ctx: FrameContext, frame: dict[str, Any]) -> dict[str, Any]:
        """The group's name, owner, size and whole-group mute (members only)."""
        group_id = req.read_group_id(frame)
        await self._membership(ctx, group_id)
        group = await self._group(group_id)
        return {
            "type": "group.info.ok",
            "group": {
                "group_id": group.group_id,
                "name": group.name,
                "owner": group.owner,
                "member_count": group.member_count,
                "muted_all": group.muted_all_until > self._clock(),
                "anyone_invites": group.anyone_invites,
            },
        }

    async def members(self, ctx: FrameContext, frame: dict[str, Any]) -> dict[str, Any]:
        """A page of members by user id; ``next`` is the ``after`` of the next page or null."""
        group_id = req.read_group_id(frame)
        after, limit = req.read_page(
            frame, self._config.members_default_limit, self._config.members_max_limit
        )
        await self._membership(ctx, group_id)
        page = await self._ports.groups.members(group_id, after, limit + 1)
        now = self._clock()
        shown = page[:limit]
        return {
            "type": "group.members.ok",
            "members": [
                {
                    "user": m.user,
                    "role": m.role,
                    "muted_until": m.muted_until if m.muted_until > now else 0,
                }
                for m in shown
            ],
            "next": shown[-1].user if len(page) > limit else None,
        }

    async def invite(self, ctx: FrameContext, frame: dict[str, Any]) -> dict[str, Any]:
        """Add users (owner/admin, or any member where the group allows it); beyond the member
        limit ``conflict`` and nobody added."""
        group_id = req.read_group_id(frame)
        users = req.read_users(frame, "users", allow_empty=False)

        async def check() -> Guard:
            me = await self._membership(ctx, group_id)
            allowed = inviters((await self._group(group_id)).anyone_invites)
            if me.role not in allowed:
                raise Forbidden("only the group's owner or an admin may invite here")
            return {ctx.user_id: allowed}

        guard = await check()
        await self._require_users(users)
        added = await self._ports.groups.add_members(
            group_id, users, self._config.member_limit, guard=guard
        )
        if added is None:
            # Either the caller lost the right meanwhile (the checks say so) or the group is full.
            await check()
            raise Conflict(f"a group has at most {self._config.member_limit} members")
        if added:
            everyone = await self._ports.groups.member_ids(group_id)
            await self._notify(ctx, group_id, everyone, "joined", users=added)
        return {"type": "group.invite.ok"}

    async def leave(self, ctx: FrameContext, frame: dict[str, Any]) -> dict[str, Any]:
        """Leave the group; the owner must transfer it first (``forbidden``)."""
        group_id = req.read_group_id(frame)

        async def check() -> Guard:
            if (await self._membership(ctx, group_id)).role == "owner":
                raise Forbidden("the owner must transfer the group (or dissolve it) before leaving")
            return {ctx.user_id: ("admin", "member")}

        guard = await check()
        before = await self._ports.groups.member_ids(group_id)
        await self._written(check, self._ports.groups.remove_member(group_id, ctx.user_id, guard))
        await self._notify(ctx, group_id, before, "left", user=ctx.user_id)
        return {"type": "group.leave.ok"}

    async def kick(self, ctx: FrameContext, frame: dict[str, Any]) -> dict[str, Any]:
        """Remove a member: the owner anyone else, an admin plain members only."""
        group_id = req.read_group_id(frame)
        target_id = req.read_target(frame, ctx.user_id)

        async def check() -> Guard:
            return await self._outranks(ctx, group_id, target_id)

        guard = await check()
        before = await self._ports.groups.member_ids(group_id)
        await self._written(check, self._ports.groups.remove_member(group_id, target_id, guard))
        await self._notify(ctx, group_id, before, "kicked", user=target_id, by=ctx.user_id)
        return {"type": "group.kick.ok"}

    async def set_role(self, ctx: FrameContext, frame: dict[str, Any]) -> dict[str, Any]:
        """Make a member ``admin`` or ``member`` (owner only)."""
        group_id = req.read_group_id(frame)
        target_id = req.read_target(frame, ctx.user_id)
        role = req.read_role(frame)
        target_role = ""

        async def check() -> Guard:
            nonlocal target_role
            require_owner((await self._membership(ctx, group_id)).role)
            target_role = (await self._target(group_id, target_id)).role
            return {ctx.user_id: ("owner",), target_id: (target_role,)}

        guard = await check()
        if target_role == role:  # nothing to change, no one to tell
            return {"type": "group.set_role.ok"}
        await self._written(check, self._ports.groups.set_role(group_id, target_id, role, guard))
        everyone = await self._ports.groups.member_ids(group_id)
        await self._notify(ctx, group_id, everyone, "role", user=target_id, role=role)
        return {"type": "group.set_role.ok"}

    async def mute(self, ctx: FrameContext, frame: dict[str, Any]) -> dict[str, Any]:
        """Mute a member (as for kick) or, without ``user``, the whole group (owner/admin)."""
        group_id = req.read_group_id(frame)
        until = req.read_until(frame)
        target_id = req.read_target(frame, ctx.user_id) if "user" in frame else None
        groups = self._ports.groups

        async def check() -> Guard:
            if target_id is not None:
                return await self._outranks(ctx, group_id, target_id)
            require_moderator((await self._membership(ctx, group_id)).role)
            return {ctx.user_id: MODERATORS}

        guard = await check()
        fields: dict[str, Any] = {"until": until, "by": ctx.user_id}
        if target_id is None:
            await self._written(check, groups.set_group_mute(group_id, until, guard))
        else:
            await self._written(check, groups.set_member_mute(group_id, target_id, until, guard))
            fields["user"] = target_id
        await self._notify(ctx, group_id, await groups.member_ids(group_id), "muted", **fields)
        return {"type": "group.mute.ok"}

    async def transfer(self, ctx: FrameContext, frame: dict[str, Any]) -> dict[str, Any]:
        """Hand the group to another member (owner only); the old owner becomes admin."""
        group_id = req.read_group_id(frame)
        target_id = req.read_target(frame, ctx.user_id)

        async def check() -> Guard:
            require_owner((await self._membership(ctx, group_id)).role)
            await self._target(group_id, target_id)
            return {}

        await check()
        # transfer itself requires the caller to own the group and the target to be a member.
        await self._written(check, self._ports.groups.transfer(group_id, ctx.user_id, target_id))
        everyone = await self._ports.groups.member_ids(group_id)
        await self._notify(ctx, group_id, everyone, "transferred", user=target_id, by=ctx.user_id)
        return {"type": "group.transfer.ok"}

    async def dissolve(self, ctx: FrameContext, frame: dict[str, Any]) -> dict[str, Any]:
        """Delete the group (owner only); every member gets ``dissolved``."""
        group_id = req.read_group_id(frame)

        async def check() -> Guard:
            require_owner((await self._membership(ctx, group_id)).role)
            return {ctx.user_id: ("owner",)}

        guard = await check()
        before = await self._ports.groups.member_ids(group_id)
        await self._written(check, self._ports.groups.dissolve(group_id, guard))
        await self._notify(ctx, group_id, before, "dissolved", by=ctx.user_id)
        return {"type": "group.dissolve.ok"}

    async def rename(self, ctx: FrameContext, frame: dict[str, Any]) -> dict[str, Any]:
        """Give the group a new name (owner/admin); members get ``renamed``."""
        group_id = req.read_group_id(frame)
        name = req.read_name(frame, self._config.name_max_bytes)

        async def check() -> Guard:
            require_moderator((await self._membership(ctx, group_id)).role)
            return {ctx.user_id: MODERATORS}

        guard = await check()
        await self._written(check, self._ports.groups.rename(group_id, name, guard))
        everyone = await self._ports.groups.member_ids(group_id)
        await self._notify(ctx, group_id, everyone, "renamed", name=name, by=ctx.user_id)
        return {"type": "group.rename.ok"}

    async def settings(self, ctx: FrameContext, frame: dict[str, Any]) -> dict[str, Any]:
        """Change the group's settings (owner/admin): ``anyone_invites``; members get
        ``settings``."""
        group_id = req.read_group_id(frame)
        anyone_invites = req.read_flag(frame, "anyone_invites")

        async def check() -> Guard:
            require_moderator((await self._membership(ctx, group_id)).role)
            return {ctx.user_id: MODERATORS}

        guard = await check()
        write = self._ports.groups.set_anyone_invites(group_id, anyone_invites, guard)
        await self._written(check, write)
        everyone = await self._ports.groups.member_ids(group_id)
        fields = {"anyone_invites": anyone_invites, "by": ctx.user_id}
        await self._notify(ctx, group_id, everyone, "settings", **fields)
        return {"type": "group.settings.ok"}

    @staticmethod
    async def _written(check: Callable[[], Awaitable[Guard]], write: Awaitable[bool]) -> None:
        """Await a guarded write; when its guard failed, the checks again give the reason."""
        if await write:
            return
        await check()
        raise Conflict("the group changed meanwhile; try again")

    async def _outranks(self, ctx: FrameContext, group_id: str, target_id: str) -> Guard:
        """The kick/mute check; the guard pins both roles it was decided on."""
        me = await self._membership(ctx, group_id)
        target = await self._target(group_id, target_id)
        require_outranks(me.role, target.role)
        return {ctx.user_id: (me.role,), target_id: (target.role,)}

    async def _membership(self, ctx: FrameContext, group_id: str) -> MemberRecord:
        # Not a member and no such group get the same answer: existence does not leak.
        me = await self._ports.groups.member(group_id, ctx.user_id)
        if me is None:
            raise NotFound("no such group")
        return me

    async def _group(self, group_id: str) -> GroupRecord:
        group = await self._ports.groups.group(group_id)
        if group is None:  # dissolved meanwhile
            raise NotFound("no such group")
        return group

    async def _target(self, group_id: str, user: str) -> MemberRecord:
        target = await self._ports.groups.member(group_id, user)
        if target is None:
            raise NotFound("that user is not a member of the group")
        return target

    async def _require_users(self, users: list[str]) -> None:
        missing = set(users) - await self._ports.users.existing_users(users)
        if missing:
            raise NotFound(f"no such user: {min(missing)}")

    async def _notify(
        self, ctx: FrameContext, group_id: str, to: list[str], kind: str, **fields: Any
    ) -> None:
        """After a committed change: retire the group's cached snapshot (sends and reads
        anywhere see the change from now on), then tell ``to``."""
        await self._snapshots.changed(group_id)
        # Keyed by the group's conversation: the changes of one group reach members in order.
        key = f"g:{group_id}"
        frame = {"type": "group.event", "group_id": group_id, "kind": kind, **fields}
        data = {"users": to, "frame": frame, "skip": {"node": ctx.node_id, "conn": ctx.conn_id}}
        await self._ports.bus.publish(
            new_event(catalog.USERS_NOTIFIED, SOURCE, data, subject=key), key=key
        )


def create_function(settings: Settings, ports: Ports) -> GroupFunction:
    """Build the group function on already opened ports."""
    return GroupFunction(GroupConfig.from_settings(settings), ports)
