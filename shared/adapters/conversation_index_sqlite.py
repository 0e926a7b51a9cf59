"""ConversationIndex on SQLite (embedded default)."""

from __future__ import annotations

import sqlite3

from imfaas.shared.adapters.sqlite_database import SqliteDatabase
from imfaas.shared.ports.conversation_index import ConversationEntry

MIGRATIONS = [
    """
    CREATE TABLE user_conversations (
        user_id TEXT NOT NULL,
        conversation TEXT NOT NULL,
        last_seq INTEGER NOT NULL,
        last_ts INTEGER NOT NULL,
        read_seq INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (user_id, conversation)
    ) WITHOUT ROWID;
    CREATE INDEX user_conversations_recent ON user_conversations (user_id, last_ts DESC)
    """,
    """
    CREATE TABLE conversation_activity (
        conversation TEXT PRIMARY KEY,
        last_seq INTEGER NOT NULL,
        last_ts INTEGER NOT NULL
    ) WITHOUT ROWID
    """,
]


def _entry(row: sqlite3.Row) -> ConversationEntry:
    return ConversationEntry(
        conversation=row["conversation"],
        last_seq=row["last_seq"],
        last_ts=row["last_ts"],
        read_seq=row["read_seq"],
    )


class SqliteConversationIndex:
    """One row per (user, conversation)."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    async def migrate(self) -> None:
        """Create or upgrade this adapter's tables."""
        await self._db.migrate("conversation_index", MIGRATIONS)

    async def record_message(
        self, conversation: str, members: list[str], seq: int, ts: int
    ) -> None:
        """Upsert each member's row; ``last_seq`` and ``last_ts`` never move back."""

        def upsert(conn: sqlite3.Connection) -> None:
            conn.executemany(
                "INSERT INTO user_conversations (user_id, conversation, last_seq, last_ts)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (user_id, conversation) DO UPDATE SET"
                " last_seq = MAX(last_seq, excluded.last_seq),"
                " last_ts = MAX(last_ts, excluded.last_ts)",
                [(member, conversation, seq, ts) for member in members],
            )

        await self._db.transaction(upsert)

    async def record_activity(self, conversation: str, seq: int, ts: int) -> None:
        """Upsert the conversation's row; never moves back."""
        await self._db.write(
            "INSERT INTO conversation_activity (conversation, last_seq, last_ts) VALUES (?, ?, ?)"
            " ON CONFLICT (conversation) DO UPDATE SET"
            " last_seq = MAX(last_seq, excluded.last_seq),"
            " last_ts = MAX(last_ts, excluded.last_ts)",
            (conversation, seq, ts),
        )

    async def activity(self, conversations: list[str]) -> dict[str, tuple[int, int]]:
        """The recorded activity of the given conversations."""
        if not conversations:
            return {}
        marks = ",".join("?" * len(conversations))
        rows = await self._db.query(
            "SELECT conversation, last_seq, last_ts FROM conversation_activity"
            f" WHERE conversation IN ({marks})",
            list(conversations),
        )
        return {row["conversation"]: (row["last_seq"], row["last_ts"]) for row in rows}

    async def ensure_entry(self, user_id: str, conversation: str) -> None:
        """Insert an all-zero entry unless one exists."""
        await self._db.write(
            "INSERT OR IGNORE INTO user_conversations (user_id, conversation, last_seq, last_ts)"
            " VALUES (?, ?, 0, 0)",
            (user_id, conversation),
        )

    async def list_for_user(self, user_id: str, limit: int | None) -> list[ConversationEntry]:
        """The user's conversations, newest activity first (all when ``limit`` is None)."""
        rows = await self._db.query(
            "SELECT conversation, last_seq, last_ts, read_seq FROM user_conversations"
            " WHERE user_id = ? ORDER BY last_ts DESC, conversation LIMIT ?",
            (user_id, -1 if limit is None else limit),
        )
        return [_entry(row) for row in rows]

    async def get_entries(
        self, user_id: str, conversations: list[str]
    ) -> dict[str, ConversationEntry]:
        """The user's entries for the given conversations."""
        if not conversations:
            return {}
        marks = ",".join("?" * len(conversations))
        rows = await self._db.query(
            "SELECT conversation, last_seq, last_ts, read_seq FROM user_conversations"
            f" WHERE user_id = ? AND conversation IN ({marks})",
            [user_id, *conversations],
        )
        return {row["conversation"]: _entry(row) for row in rows}

    async def set_read(self, user_id: str, conversation: str, seq: int) -> int | None:
        """Raise the read mark to ``seq`` (a max, in one statement); None without an entry."""
        rows = await self._db.write(
            "UPDATE user_conversations SET read_seq = MAX(read_seq, ?)"
            " WHERE user_id = ? AND conversation = ? RETURNING read_seq",
            (seq, user_id, conversation),
        )
        return int(rows[0]["read_seq"]) if rows else None
