"""Who belongs to a conversation (pure for direct conversations; groups come with their port)."""

from __future__ import annotations

from imfaas.shared.conversation_id import ConversationId, parse_conversation
from imfaas.shared.errors import Forbidden, NotFound


def _parsed(conversation: object) -> ConversationId:
    if isinstance(conversation, ConversationId):
        return conversation
    return parse_conversation(conversation)


def members_of(conversation: object) -> list[str]:
    """The members of a conversation; raise ``NotFound`` for a group that does not exist."""
    conv = _parsed(conversation)
    if conv.kind == "d":
        return list(conv.direct_members())
    # Groups arrive with the group function; until then no group exists.
    raise NotFound("no such group")


def require_member(conversation: object, user_id: str) -> list[str]:
    """The members, if ``user_id`` is one of them; else ``Forbidden``."""
    members = members_of(conversation)
    if user_id not in members:
        raise Forbidden("not a member of this conversation")
    return members


def moderates(conversation: object, user_id: str) -> bool:
    """True if ``user_id`` may recall anyone's message at any time: a group's owner or admin.

    A direct conversation has no moderators. Groups are the hook: when they arrive with their
    port, this answers from the member's role (and becomes async with it).
    """
    conv = _parsed(conversation)
    if conv.kind == "d":
        return False
    members_of(conv)  # raises NotFound: no group exists yet
    return False
