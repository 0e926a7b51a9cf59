"""Push preferences per user and conversation, and the record of every push attempt."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class PushPreferences:
    """A user's push settings. Do-not-disturb runs from ``dnd_start_min`` to ``dnd_end_min``
    (minutes after midnight in the user's local time, ``utc_offset_min`` from UTC; an end
    before the start spans midnight); None for both means no do-not-disturb."""

    user_id: str
    preview: bool = True
    dnd_start_min: int | None = None
    dnd_end_min: int | None = None
    utc_offset_min: int = 0


@dataclass(frozen=True, slots=True)
class PushRecord:
    """What became of one notification (one message to one device).

    ``status``: ``pending`` (claimed, being tried), ``delivered``, ``invalid_token``,
    ``rejected`` or ``dead`` (retry budget spent).
    """

    key: str
    user_id: str
    device_id: str
    provider: str
    status: str
    attempts: int
    latency_ms: float
    provider_message_id: str | None
    reason: str | None
    updated_ms: int


FINAL_STATUSES = ("delivered", "invalid_token", "rejected", "dead")


class PushRegistry(Protocol):
    """Durable push state. Every write is atomic; ``claim`` serializes the attempts of one key."""

    async def preferences(self, user_id: str) -> PushPreferences:
        """The user's preferences (the defaults when never set)."""

    async def set_preferences(self, prefs: PushPreferences) -> None:
        """Replace the user's preferences."""

    async def conversation_mutes(self, user_id: str, conversations: list[str]) -> dict[str, int]:
        """``until`` (ms epoch) of the user's push mutes among ``conversations`` (absent: none)."""

    async def set_conversation_mute(self, user_id: str, conversation: str, until_ms: int) -> None:
        """Mute pushes of one conversation until ``until_ms`` (0 lifts it)."""

    async def claim(
        self, key: str, user_id: str, device_id: str, provider: str, now_ms: int
    ) -> PushRecord | None:
        """Count one more attempt of ``key`` and return the record after it; None (and nothing
        changed) when the key already reached a final status, so it is never sent again."""

    async def finish(
        self,
        key: str,
        status: str,
        latency_ms: float,
        provider_message_id: str | None,
        reason: str | None,
        now_ms: int,
    ) -> None:
        """Set the outcome of the latest attempt (``pending`` again for a retry); a no-op once
        the key reached a final status (a late answer of an earlier attempt changes nothing)."""

    async def record(self, key: str) -> PushRecord | None:
        """One record, or None."""

    async def records_for_user(self, user_id: str) -> list[PushRecord]:
        """The user's records, oldest update first (for operators and tests)."""
