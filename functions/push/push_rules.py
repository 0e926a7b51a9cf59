"""Who gets a push, and what it says (pure: no I/O)."""

from __future__ import annotations

from typing import Any

from imfaas.shared.errors import BadRequest
from imfaas.shared.ports.push_registry import PushPreferences

MINUTES_PER_DAY = 24 * 60
# Platforms that get no mobile push (FCM for Android, APNs for iOS, HMS for Huawei): a
# browser or a desktop app shows what arrives while it is connected.
NO_PUSH_PLATFORMS = ("web", "desktop")
# Real offsets run from UTC-12:00 to UTC+14:00.
MAX_UTC_OFFSET_MIN = 14 * 60


def in_do_not_disturb(prefs: PushPreferences, now_ms: int) -> bool:
    """True while ``now_ms`` falls in the user's do-not-disturb window (local time)."""
    start, end = prefs.dnd_start_min, prefs.dnd_end_min
    if start is None or end is None or start == end:
        return False
    minute = (now_ms // 60_000 + prefs.utc_offset_min) % MINUTES_PER_DAY
    if start < end:
        return start <= minute < end
    return minute >= start or minute < end  # the window spans midnight


def preview_body(content: dict[str, Any], preview: bool) -> str | None:
    """The text a notification shows, or None for the content-free "new message": previews
    off, or an end-to-end encrypted message the server cannot read."""
    if not preview:
        return None
    kind = content.get("kind")
    if kind == "text":
        return str(content.get("text", ""))
    if kind == "file":
        return f"Sent a file: {content.get('name', '')}"
    return None


def job_key(msg_id: str, device_id: str) -> str:
    """One notification's idempotency key: one message to one device, whatever is replayed."""
    return f"{msg_id}:{device_id}"


def read_preferences(frame: dict[str, Any], current: PushPreferences) -> PushPreferences:
    """``push.settings``: ``preview`` and ``dnd`` (null clears it) change, the rest stays."""
    preview = current.preview
    start, end, offset = current.dnd_start_min, current.dnd_end_min, current.utc_offset_min
    if "preview" in frame:
        if not isinstance(frame["preview"], bool):
            raise BadRequest("preview must be true or false")
        preview = frame["preview"]
    if "dnd" in frame:
        dnd = frame["dnd"]
        if dnd is None:
            start = end = None
            offset = 0
        elif isinstance(dnd, dict):
            start = _minute(dnd.get("start"), "dnd.start")
            end = _minute(dnd.get("end"), "dnd.end")
            offset = _offset(dnd.get("utc_offset", 0))
        else:
            raise BadRequest("dnd must be an object or null")
    return PushPreferences(current.user_id, preview, start, end, offset)


def preferences_frame(prefs: PushPreferences) -> dict[str, Any]:
    """The ``push.settings.ok`` view of the preferences."""
    dnd = None
    if prefs.dnd_start_min is not None and prefs.dnd_end_min is not None:
        dnd = {
            "start": prefs.dnd_start_min,
            "end": prefs.dnd_end_min,
            "utc_offset": prefs.utc_offset_min,
        }
    return {"preview": prefs.preview, "dnd": dnd}


def _minute(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < MINUTES_PER_DAY:
        raise BadRequest(f"{what} must be a minute of the day, 0-1439")
    return value


def _offset(value: object) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not -MAX_UTC_OFFSET_MIN <= value <= MAX_UTC_OFFSET_MIN
    ):
        raise BadRequest("dnd.utc_offset must be minutes from UTC, -840 to 840")
    return value
