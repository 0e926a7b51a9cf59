"""The per-conversation message log."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from imfaas.shared.message import Message, MessageDraft


@dataclass(frozen=True, slots=True)
class AppendResult:
    """The stored message, and whether it is a client's resend of a stored one.

    A redelivery of the very submission that stored the message (same ``submission_id``)
    is not a duplicate: whoever handles it must finish the work the first attempt began.
    """

    message: Message
    duplicate: bool


class MessageLog(Protocol):
    """Durable messages with a gap-free per-conversation ``seq``.

    Only the store function appends, one writer per conversation at a time (the event bus's
    partition per key); ``recall`` and ``edit`` change one stored message in place and may
    run beside it. Every write is durable when it returns.
    """

    async def append(self, draft: MessageDraft, dedup_ttl_ms: int) -> AppendResult:
        """Store the draft at the conversation's next seq, unless (sender, client_msg_id) is known.

        A known pair returns the original message and writes nothing; ``duplicate`` is True
        unless the draft carries the ``submission_id`` that stored it.
        Never overwrites another message at the same seq: raises ``SeqConflict`` instead.
        """

    async def read_after(self, conversation: str, after_seq: int, limit: int) -> list[Message]:
        """Messages with ``seq > after_seq``, ascending, at most ``limit``."""

    async def read_before(
        self, conversation: str, before_seq: int | None, limit: int
    ) -> list[Message]:
        """Messages with ``seq < before_seq`` (all when None), newest first, at most ``limit``."""

    async def get(self, conversation: str, seq: int) -> Message | None:
        """The message at ``seq``, or None."""

    async def recall(self, conversation: str, seq: int) -> Message | None:
        """Mark the message recalled and erase its content (idempotent); it keeps its seq.

        Returns the message after, or None when no message has that seq.
        """

    async def edit(self, conversation: str, seq: int, content: dict[str, Any]) -> Message | None:
        """Replace the content and set ``edited``, unless the message is recalled (idempotent).

        Atomic against ``recall``: a recalled message is returned unchanged, never edited.
        Returns the message after, or None when no message has that seq.
        """

    async def count_unread(self, conversation: str, reader: str, after_seq: int) -> int:
        """Messages from senders other than ``reader`` with ``seq > after_seq``, not recalled."""
