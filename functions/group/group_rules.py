"""Who may do what in a group (pure)."""

from __future__ import annotations

from imfaas.shared.errors import Forbidden

MODERATORS = ("owner", "admin")


def require_moderator(role: str) -> None:
    """Invite and mute the whole group: owner or admin."""
    if role not in MODERATORS:
        raise Forbidden("only the group's owner or an admin may do this")


def inviters(anyone_invites: bool) -> tuple[str, ...]:
    """The roles that may invite: every member when the group allows it, else moderators."""
    return ("owner", "admin", "member") if anyone_invites else MODERATORS


def require_owner(role: str) -> None:
    """Set roles, transfer, dissolve: the owner only."""
    if role != "owner":
        raise Forbidden("only the group's owner may do this")


def require_outranks(actor_role: str, target_role: str) -> None:
    """Kick or mute someone: the owner anyone else, an admin plain members only."""
    if actor_role == "owner" and target_role != "owner":
        return
    if actor_role == "admin" and target_role == "member":
        return
    raise Forbidden("your role does not allow this on that member")
