"""MessageLog on SQLite (embedded default): dedup, seq and insert in one transaction."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from imfaas.shared.adapters.sqlite_database import SqliteDatabase
from imfaas.shared.errors import SeqConflict
from imfaas.shared.message import Message, MessageDraft, make_msg_id
from imfaas.shared.ports.message_log import AppendResult

MIGRATIONS = [
    """
    CREATE TABLE messages (
        conversation TEXT NOT NULL,
        seq INTEGER NOT NULL,
        msg_id TEXT NOT NULL,
        sender TEXT NOT NULL,
        sender_device TEXT NOT NULL,
        client_msg_id TEXT NOT NULL,
        ts INTEGER NOT NULL,
        content TEXT,
        recalled INTEGER NOT NULL DEFAULT 0,
        edited INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (conversation, seq)
    ) WITHOUT ROWID;
    CREATE TABLE conversation_heads (
        conversation TEXT PRIMARY KEY,
        last_seq INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE message_dedup (
        sender TEXT NOT NULL,
        client_msg_id TEXT NOT NULL,
        conversation TEXT NOT NULL,
        seq INTEGER NOT NULL,
        expires_ms INTEGER NOT NULL,
        PRIMARY KEY (sender, client_msg_id)
    ) WITHOUT ROWID
    """,
    # 2: tell a bus redelivery of the storing submission from a client's resend.
    "ALTER TABLE message_dedup ADD COLUMN submission_id TEXT NOT NULL DEFAULT ''",
]

_COLUMNS = (
    "conversation, seq, msg_id, sender, sender_device, client_msg_id, ts, content, recalled, edited"
)


def _message(row: sqlite3.Row) -> Message:
    return Message(
        conversation=row["conversation"],
        seq=row["seq"],
        msg_id=row["msg_id"],
        sender=row["sender"],
        sender_device=row["sender_device"],
        client_msg_id=row["client_msg_id"],
        ts=row["ts"],
        content=json.loads(row["content"]) if row["content"] is not None else None,
        recalled=bool(row["recalled"]),
        edited=bool(row["edited"]),
    )


class SqliteMessageLog:
    """Messages keyed by (conversation, seq); the primary key fences a second writer."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    async def migrate(self) -> None:
        """Create or upgrade this adapter's tables."""
        await self._db.migrate("messages", MIGRATIONS)

    async def append(self, draft: MessageDraft, dedup_ttl_ms: int) -> AppendResult:
        """Dedup, assign the next seq and insert, all in one transaction."""

        def write(conn: sqlite3.Connection) -> AppendResult:
            seen = conn.execute(
                "SELECT conversation, seq, expires_ms, submission_id FROM message_dedup"
                " WHERE sender = ? AND client_msg_id = ?",
                (draft.sender, draft.client_msg_id),
            ).fetchone()
            if seen is not None and seen["expires_ms"] > draft.ts:
                row = conn.execute(
                    f"SELECT {_COLUMNS} FROM messages WHERE conversation = ? AND seq = ?",
                    (seen["conversation"], seen["seq"]),
                ).fetchone()
                if row is not None:
                    redelivery = bool(draft.submission_id) and (
                        seen["submission_id"] == draft.submission_id
                    )
                    return AppendResult(_message(row), duplicate=not redelivery)
            head = conn.execute(
                "SELECT last_seq FROM conversation_heads WHERE conversation = ?",
                (draft.conversation,),
            ).fetchone()
            seq = (head["last_seq"] if head else 0) + 1
            message = Message(
                conversation=draft.conversation,
                seq=seq,
                msg_id=make_msg_id(draft.conversation, seq),
                sender=draft.sender,
                sender_device=draft.sender_device,
                client_msg_id=draft.client_msg_id,
                ts=draft.ts,
                content=draft.content,
            )
            try:
                conn.execute(
                    f"INSERT INTO messages ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, 0)",
                    (
                        message.conversation,
                        message.seq,
                        message.msg_id,
                        message.sender,
                        message.sender_device,
                        message.client_msg_id,
                        message.ts,
                        json.dumps(message.content, separators=(",", ":")),
                    ),
                )
            except sqlite3.IntegrityError as exc:
                raise SeqConflict(f"{draft.conversation} seq {seq} is taken") from exc
            conn.execute(
                "INSERT INTO conversation_heads (conversation, last_seq) VALUES (?, ?)"
                " ON CONFLICT (conversation) DO UPDATE SET last_seq = excluded.last_seq",
                (draft.conversation, seq),
            )
            conn.execute(
                "INSERT OR REPLACE INTO message_dedup (sender, client_msg_id, conversation,"
                " seq, expires_ms, submission_id) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    draft.sender,
                    draft.client_msg_id,
                    draft.conversation,
                    seq,
                    draft.ts + dedup_ttl_ms,
                    draft.submission_id,
                ),
            )
            return AppendResult(message, duplicate=False)

        return await self._db.transaction(write)

    async def read_after(self, conversation: str, after_seq: int, limit: int) -> list[Message]:
        """Messages with ``seq > after_seq``, ascending."""
        rows = await self._db.query(
            f"SELECT {_COLUMNS} FROM messages WHERE conversation = ? AND seq > ?"
            " ORDER BY seq ASC LIMIT ?",
            (conversation, after_seq, limit),
        )
        return [_message(row) for row in rows]

    async def read_before(
        self, conversation: str, before_seq: int | None, limit: int
    ) -> list[Message]:
        """Messages with ``seq < before_seq``, newest first."""
        bound = before_seq if before_seq is not None else 2**62
        rows = await self._db.query(
            f"SELECT {_COLUMNS} FROM messages WHERE conversation = ? AND seq < ?"
            " ORDER BY seq DESC LIMIT ?",
            (conversation, bound, limit),
        )
        return [_message(row) for row in rows]

    async def count_unread(self, conversation: str, reader: str, after_seq: int) -> int:
        """Messages from others after ``after_seq`` that are not recalled."""
        rows = await self._db.query(
            "SELECT COUNT(*) AS n FROM messages WHERE conversation = ? AND seq > ?"
            " AND sender != ? AND recalled = 0",
            (conversation, after_seq, reader),
        )
        return int(rows[0]["n"])

    async def get(self, conversation: str, seq: int) -> Message | None:
        """The message at ``seq``, or None."""
        rows = await self._db.query(
            f"SELECT {_COLUMNS} FROM messages WHERE conversation = ? AND seq = ?",
            (conversation, seq),
        )
        return _message(rows[0]) if rows else None

    async def recall(self, conversation: str, seq: int) -> Message | None:
        """Set ``recalled`` and erase the content; the message after, or None."""
        rows = await self._db.write(
            "UPDATE messages SET recalled = 1, content = NULL"
            f" WHERE conversation = ? AND seq = ? RETURNING {_COLUMNS}",
            (conversation, seq),
        )
        return _message(rows[0]) if rows else None

    async def edit(self, conversation: str, seq: int, content: dict[str, Any]) -> Message | None:
        """Replace the content unless recalled, in one statement; the message after, or None."""
        rows = await self._db.write(
            "UPDATE messages SET content = ?, edited = 1"
            f" WHERE conversation = ? AND seq = ? AND recalled = 0 RETURNING {_COLUMNS}",
            (json.dumps(content, separators=(",", ":")), conversation, seq),
        )
        return _message(rows[0]) if rows else await self.get(conversation, seq)
