"""Parsing the group requests (pure)."""

from __future__ import annotations

from typing import Any

from imfaas.shared.conversation_id import check_plain_id
from imfaas.shared.errors import BadRequest
from imfaas.shared.text_size import check_text_size


def read_group_id(frame: dict[str, Any]) -> str:
    """``group_id``: a plain id."""
    if "group_id" not in frame:
        raise BadRequest("group_id is required")
    return check_plain_id(frame["group_id"], "group_id")


def read_name(frame: dict[str, Any], max_bytes: int) -> str:
    """``name``: non-empty text; ``TooLarge`` beyond ``max_bytes``."""
    name = frame.get("name")
    if not isinstance(name, str) or not name.strip():
        raise BadRequest("name must be a non-empty string")
    return check_text_size(name, "name", max_bytes)


def read_users(frame: dict[str, Any], field: str, *, allow_empty: bool) -> list[str]:
    """A list of user ids under ``field``, deduplicated and sorted."""
    users = frame.get(field)
    if not isinstance(users, list) or (not users and not allow_empty):
        raise BadRequest(f"{field} must be a {'' if allow_empty else 'non-empty '}list of users")
    return sorted({check_plain_id(user, field[:-1]) for user in users})


def read_target(frame: dict[str, Any], me: str) -> str:
    """``user``: another member's id; ``BadRequest`` if missing, malformed or the caller's."""
    if "user" not in frame:
        raise BadRequest("user is required")
    user = check_plain_id(frame["user"], "user")
    if user == me:
        raise BadRequest("user must be someone else")
    return user


def read_role(frame: dict[str, Any]) -> str:
    """``role``: ``admin`` or ``member`` (ownership moves by ``group.transfer`` only)."""
    role = frame.get("role")
    if role not in ("admin", "member"):
        raise BadRequest("role must be admin or member")
    return role


def read_until(frame: dict[str, Any]) -> int:
    """``until``: a ms epoch, 0 lifting the mute."""
    until = frame.get("until")
    if not isinstance(until, int) or isinstance(until, bool) or until < 0:
        raise BadRequest("until must be a non-negative integer (ms epoch)")
    return until


def read_page(frame: dict[str, Any], default: int, maximum: int) -> tuple[str, int]:
    """``after`` ('' from the start) and ``limit`` (clamped to ``maximum``)."""
    after = check_plain_id(frame["after"], "after") if "after" in frame else ""
    limit = frame.get("limit", default)
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise BadRequest("limit must be a positive integer")
    return after, min(limit, maximum)


def read_flag(frame: dict[str, Any], field: str, *, default: bool | None = None) -> bool:
    """A boolean under ``field``; absent gives ``default`` (``bad_request`` when None)."""
    if field not in frame and default is not None:
        return default
    value = frame.get(field)
    if not isinstance(value, bool):
        raise BadRequest(f"{field} must be true or false")
    return value
