"""Who belongs to a conversation, and who may write to it.

A direct conversation's members are in its id (no I/O). A group's come from its cached
snapshot (``group_snapshots``), so membership, roles and mutes are checked on every send
and every read without a database round trip per message.
"""

from __future__ import annotations

from imfaas.shared.conversation_id import ConversationId, parse_conversation
from imfaas.shared.errors import Forbidden, NotFound
from imfaas.shared.group_snapshots import GroupSnapshot, GroupSnapshots
from imfaas.shared.ports.cache import Cache
from imfaas.shared.ports.group_directory import GroupDirectory, GroupRecord, MemberRecord

MODERATOR_ROLES = ("owner", "admin")


def _parsed(conversation: object) -> ConversationId:
    if isinstance(conversation, ConversationId):
        return conversation
    return parse_conversation(conversation)


def check_may_post(group: GroupRecord, member: MemberRecord, now_ms: int) -> None:
    """Raise ``Forbidden`` when a muted member posts, or a plain member of a muted group."""
    if member.muted_until > now_ms:
        raise Forbidden("you are muted in this group")
    if group.muted_all_until > now_ms and member.role not in MODERATOR_ROLES:
        raise Forbidden("the group is muted")


class ConversationMembers:
    """Membership of direct conversations (from the id) and groups (from snapshots).

    ``snapshots`` may be None in a process that serves direct conversations only; a group
    then does not exist for it.
    """

    def __init__(self, snapshots: GroupSnapshots | None) -> None:
        self._snapshots = snapshots

    async def members_of(self, conversation: object) -> list[str]:
        """The members; ``NotFound`` for a group that does not exist."""
        conv = _parsed(conversation)
        if conv.kind == "d":
            return list(conv.direct_members())
        return list((await self._group(conv)).member_ids)

    async def require_member(self, conversation: object, user_id: str) -> list[str]:
        """The members, if ``user_id`` is one of them; else ``Forbidden`` (``NotFound`` for a
        group that does not exist)."""
        conv = _parsed(conversation)
        if conv.kind == "d":
            members = list(conv.direct_members())
            if user_id not in members:
                raise Forbidden("not a member of this conversation")
            return members
        snapshot = await self._group(conv)
        if snapshot.member(user_id) is None:
            raise Forbidden("not a member of this conversation")
        return list(snapshot.member_ids)

    async def require_poster(self, conversation: object, user_id: str, now_ms: int) -> list[str]:
        """As ``require_member``, and ``Forbidden`` while the user or the group is muted."""
        conv = _parsed(conversation)
        members = await self.require_member(conv, user_id)
        if conv.kind == "g":
            snapshot = await self._group(conv)
            member = snapshot.member(user_id)
            assert member is not None  # require_member checked it
            check_may_post(snapshot.group, member, now_ms)
        return members

    async def moderates(self, conversation: object, user_id: str) -> bool:
        """True if ``user_id`` may recall anyone's message at any time: a group's owner or
        admin. A direct conversation has no moderators."""
        conv = _parsed(conversation)
        if conv.kind == "d":
            return False
        member = (await self._group(conv)).member(user_id)
        return member is not None and member.role in MODERATOR_ROLES

    async def _group(self, conv: ConversationId) -> GroupSnapshot:
        snapshot = None
        if self._snapshots is not None:
            snapshot = await self._snapshots.get(conv.parts[0])
        if snapshot is None:
            raise NotFound("no such group")
        return snapshot


def conversation_members(groups: GroupDirectory | None, cache: Cache | None) -> ConversationMembers:
    """Membership over the given ports; groups need both the directory and the cache."""
    if groups is None or cache is None:
        return ConversationMembers(None)
    return ConversationMembers(GroupSnapshots(groups, cache))
