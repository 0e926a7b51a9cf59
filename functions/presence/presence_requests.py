"""Reading presence.subscribe requests and building presence frames (pure)."""

from __future__ import annotations

from typing import Any

from imfaas.shared.conversation_id import check_plain_id
from imfaas.shared.errors import BadRequest, TooLarge


def read_watched_users(frame: dict[str, Any], limit: int) -> list[str]:
    """The distinct user ids of a subscribe, in order; over ``limit`` is ``too_large``."""
    users = frame.get("users")
    if not isinstance(users, list):
        raise BadRequest("users must be a list of user ids")
    if len(users) > limit:
        raise TooLarge(f"at most {limit} users per presence.subscribe")
    return list(dict.fromkeys(check_plain_id(user, "user id") for user in users))


def presence_event(user: str, online: bool, ts: int) -> dict[str, Any]:
    """The event frame for a user's change; offline carries ``last_seen`` (= ``ts``)."""
    frame: dict[str, Any] = {
        "type": "presence",
        "user": user,
        "status": "online" if online else "offline",
        "ts": ts,
    }
    if not online:
        frame["last_seen"] = ts
    return frame
