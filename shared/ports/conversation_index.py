"""Each user's conversations, with last activity and read mark."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class ConversationEntry:
    """One row of a user's conversation list."""

    conversation: str
    last_seq: int
    last_ts: int
    read_seq: int


class ConversationIndex(Protocol):
    """Per-user conversation list. ``last_seq`` only moves forward, so replays are harmless."""

    async def record_message(
        self, conversation: str, members: list[str], seq: int, ts: int
    ) -> None:
        """Note a stored message for every member (idempotent; ``last_seq`` is a max)."""

    async def record_activity(self, conversation: str, seq: int, ts: int) -> None:
        """Note a stored message once for the whole conversation (groups: one write however
        many members; idempotent, ``seq``/``ts`` are maxima)."""

    async def activity(self, conversations: list[str]) -> dict[str, tuple[int, int]]:
        """``(last_seq, last_ts)`` of the given conversations that have any recorded activity."""

    async def ensure_entry(self, user_id: str, conversation: str) -> None:
        """Give the user an entry (all zero) unless there is one: a group member's read mark
        needs a row, which a group message does not write per member."""

    async def list_for_user(self, user_id: str, limit: int | None) -> list[ConversationEntry]:
        """The user's conversations, newest activity first; all of them when ``limit`` is None."""

    async def get_entries(
        self, user_id: str, conversations: list[str]
    ) -> dict[str, ConversationEntry]:
        """The user's entries for the given conversations (missing ones are absent)."""

    async def set_read(self, user_id: str, conversation: str, seq: int) -> int | None:
        """Raise the user's read mark to ``seq``, never lower it (a max: replays are harmless).

        Returns the mark after, or None (nothing written) when the user has no entry for the
        conversation. Concurrent calls from several devices keep the highest.
        """
