"""Parsing the relation requests (pure)."""

from __future__ import annotations

from typing import Any

from imfaas.shared.conversation_id import check_plain_id
from imfaas.shared.errors import BadRequest
from imfaas.shared.text_size import check_text_size


def read_other_user(frame: dict[str, Any], me: str) -> str:
    """``user``: another user's id; ``BadRequest`` if malformed or the caller's own."""
    if "user" not in frame:
        raise BadRequest("user is required")
    other = check_plain_id(frame["user"], "user")
    if other == me:
        raise BadRequest("user must be someone else")
    return other


def read_request_message(frame: dict[str, Any], max_bytes: int) -> str:
    """``message`` of a friend request ('' when absent); ``TooLarge`` beyond ``max_bytes``."""
    message = frame.get("message", "")
    if not isinstance(message, str):
        raise BadRequest("message must be a string")
    return check_text_size(message, "message", max_bytes)
