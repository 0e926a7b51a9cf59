"""ConversationIndex on ScyllaDB/Cassandra: one partition per user."""

from __future__ import annotations

from typing import Any

from imfaas.shared.adapters.cassandra_session import CassandraSession
from imfaas.shared.errors import BackendUnavailable
from imfaas.shared.ports.conversation_index import ConversationEntry

# Compare-and-set rounds a read mark gets against other devices of the same user raising it.
MAX_MARK_ROUNDS = 16

MIGRATIONS = [
    """
    CREATE TABLE IF NOT EXISTS user_conversations (
        user_id text,
        conversation text,
        last_seq bigint,
        last_ts bigint,
        read_seq bigint,
        PRIMARY KEY (user_id, conversation)
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS conversation_activity (
        conversation text PRIMARY KEY,
        last_seq bigint,
        last_ts bigint
    )
    """,
]


def _entry(row: Any) -> ConversationEntry:
    return ConversationEntry(
        conversation=row.conversation,
        last_seq=row.last_seq or 0,
        last_ts=row.last_ts or 0,
        read_seq=row.read_seq or 0,
    )


class ScyllaConversationIndex:
    """Rows per (user, conversation); sorted by activity when read (a user's list is small)."""

    def __init__(self, session: CassandraSession) -> None:
        self._db = session

    async def migrate(self) -> None:
        """Create or upgrade this adapter's tables."""
        await self._db.migrate("conversation_index", MIGRATIONS)

    async def record_message(
        self, conversation: str, members: list[str], seq: int, ts: int
    ) -> None:
        """Raise each member's ``last_seq``/``last_ts`` to this message, never lower them.

        One writer per conversation makes read-then-write safe here; a replay of an older
        message finds a higher ``last_seq`` and writes nothing.
        """
        for member in members:
            rows = await self._db.execute(
                "SELECT last_seq FROM user_conversations WHERE user_id = ? AND conversation = ?",
                [member, conversation],
            )
            if rows and (rows[0].last_seq or 0) >= seq:
                continue
            await self._db.execute(
                "UPDATE user_conversations SET last_seq = ?, last_ts = ?"
                " WHERE user_id = ? AND conversation = ?",
                [seq, ts, member, conversation],
            )

    async def record_activity(self, conversation: str, seq: int, ts: int) -> None:
        """Raise the conversation's row (its one writer, store, makes read-then-write safe)."""
        rows = await self._db.execute(
            "SELECT last_seq FROM conversation_activity WHERE conversation = ?", [conversation]
        )
        if rows and (rows[0].last_seq or 0) >= seq:
            return
        await self._db.execute(
            "UPDATE conversation_activity SET last_seq = ?, last_ts = ? WHERE conversation = ?",
            [seq, ts, conversation],
        )

    async def activity(self, conversations: list[str]) -> dict[str, tuple[int, int]]:
        """The recorded activity of the given conversations."""
        if not conversations:
            return {}
        rows = await self._db.execute(
            "SELECT conversation, last_seq, last_ts FROM conversation_activity"
            " WHERE conversation IN ?",
            [list(conversations)],
        )
        return {row.conversation: (row.last_seq or 0, row.last_ts or 0) for row in rows}

    async def ensure_entry(self, user_id: str, conversation: str) -> None:
        """Insert an all-zero entry unless one exists (a lightweight transaction: a plain
        insert would reset a read mark another device just raised)."""
        await self._db.execute(
            "INSERT INTO user_conversations (user_id, conversation, last_seq, last_ts, read_seq)"
            " VALUES (?, ?, 0, 0, 0) IF NOT EXISTS",
            [user_id, conversation],
        )

    async def list_for_user(self, user_id: str, limit: int | None) -> list[ConversationEntry]:
        """The user's conversations, newest activity first (all when ``limit`` is None)."""
        rows = await self._db.execute(
            "SELECT conversation, last_seq, last_ts, read_seq FROM user_conversations"
            " WHERE user_id = ?",
            [user_id],
        )
        entries = sorted((_entry(row) for row in rows), key=lambda e: (-e.last_ts, e.conversation))
        return entries if limit is None else entries[:limit]

    async def get_entries(
        self, user_id: str, conversations: list[str]
    ) -> dict[str, ConversationEntry]:
        """The user's entries for the given conversations."""
        if not conversations:
            return {}
        rows = await self._db.execute(
            "SELECT conversation, last_seq, last_ts, read_seq FROM user_conversations"
            " WHERE user_id = ? AND conversation IN ?",
            [user_id, list(conversations)],
        )
        return {row.conversation: _entry(row) for row in rows}

    async def set_read(self, user_id: str, conversation: str, seq: int) -> int | None:
        """Raise the read mark by compare-and-set (devices of one user may race, and no
        partition key orders them); None without an entry, which this never creates."""
        for _ in range(MAX_MARK_ROUNDS):
            rows = await self._db.execute(
                "SELECT read_seq FROM user_conversations WHERE user_id = ? AND conversation = ?",
                [user_id, conversation],
            )
            if not rows:
                return None
            current = rows[0].read_seq
            if current is not None and current >= seq:
                return int(current)
            applied = await self._db.execute(
                "UPDATE user_conversations SET read_seq = ?"
                " WHERE user_id = ? AND conversation = ? IF read_seq = ?",
                [seq, user_id, conversation, current],
            )
            if applied[0].applied:
                return seq
        raise BackendUnavailable(f"read mark of {conversation}: too much contention")
