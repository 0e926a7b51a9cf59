"""MessageLog on ScyllaDB/Cassandra: partitions of (conversation, bucket), clustered by seq.

The bucket is ``seq // BUCKET_SIZE`` so a partition stays bounded (Discord's model, by seq
rather than time, so every read knows its buckets without scanning). The message row is the
truth: it is written with a lightweight transaction (``IF NOT EXISTS``) so no writer ever
overwrites another message's seq; the per-conversation head is a hint that only speeds up
finding the next free seq.
"""

from __future__ import annotations

import asyncio
import json
import random
from typing import Any

from cassandra import WriteTimeout

from imfaas.shared.adapters.cassandra_session import CassandraSession
from imfaas.shared.errors import BackendUnavailable, SeqConflict
from imfaas.shared.message import Message, MessageDraft, make_msg_id
from imfaas.shared.ports.message_log import AppendResult

BUCKET_SIZE = 1000
# How far past a stale head a writer probes before giving up (and the bus retries).
MAX_PROBES = 64
# Lightweight transactions that time out under contention are tried this many times in all.
CAS_ATTEMPTS = 4
# Unread counts stop at this many (a client shows "999+"), bounding conv.list's work.
UNREAD_SCAN_LIMIT = 1000

MIGRATIONS = [
    """
    CREATE TABLE IF NOT EXISTS messages (
        conversation text,
        bucket int,
        seq bigint,
        msg_id text,
        sender text,
        sender_device text,
        client_msg_id text,
        ts bigint,
        content text,
        recalled boolean,
        edited boolean,
        submission_id text,
        PRIMARY KEY ((conversation, bucket), seq)
    ) WITH CLUSTERING ORDER BY (seq DESC);
    CREATE TABLE IF NOT EXISTS conversation_heads (
        conversation text PRIMARY KEY,
        last_seq bigint
    );
    CREATE TABLE IF NOT EXISTS message_dedup (
        sender text,
        client_msg_id text,
        conversation text,
        seq bigint,
        submission_id text,
        expires_ms bigint,
        PRIMARY KEY ((sender, client_msg_id))
    )
    """,
]

_COLUMNS = (
    "conversation, seq, msg_id, sender, sender_device, client_msg_id, ts, content, recalled, edited"
)


def bucket_of(seq: int) -> int:
    """The partition bucket holding ``seq``."""
    return seq // BUCKET_SIZE


def _same_submission(message: Message, draft: MessageDraft) -> bool:
    return message.sender == draft.sender and message.client_msg_id == draft.client_msg_id


def _message(row: Any) -> Message:
    return Message(
        conversation=row.conversation,
        seq=row.seq,
        msg_id=row.msg_id,
        sender=row.sender,
        sender_device=row.sender_device,
        client_msg_id=row.client_msg_id,
        ts=row.ts,
        content=json.loads(row.content) if row.content is not None else None,
        recalled=bool(row.recalled),
        edited=bool(row.edited),
    )


class ScyllaMessageLog:
    """The message log on a CQL cluster."""

    def __init__(self, session: CassandraSession) -> None:
        self._db = session

    async def migrate(self) -> None:
        """Create or upgrade this adapter's tables."""
        await self._db.migrate("messages", MIGRATIONS)

    async def get(self, conversation: str, seq: int) -> Message | None:
        """The message at ``seq``, or None."""
        rows = await self._db.execute(
            f"SELECT {_COLUMNS} FROM messages WHERE conversation = ? AND bucket = ? AND seq = ?",
            [conversation, bucket_of(seq), seq],
        )
        return _message(rows[0]) if rows else None

    async def append(self, draft: MessageDraft, dedup_ttl_ms: int) -> AppendResult:
        """Dedup, then claim the next free seq with ``IF NOT EXISTS``; never overwrite.

        The dedup entry is written before the message, so whatever step a crash interrupts,
        the redelivered submission finds its own message again instead of storing it twice.
        """
        seen = await self._db.execute(
            "SELECT conversation, seq, submission_id, expires_ms FROM message_dedup"
            " WHERE sender = ? AND client_msg_id = ?",
            [draft.sender, draft.client_msg_id],
        )
        # The dedup window is measured in message time, like the embedded log's; the row's
        # TTL only cleans up after it.
        if seen and (seen[0].expires_ms or 0) > draft.ts:
            stored = await self.get(seen[0].conversation, seen[0].seq)
            if stored is not None and _same_submission(stored, draft):
                redelivery = bool(draft.submission_id) and (
                    seen[0].submission_id == draft.submission_id
                )
                return AppendResult(stored, duplicate=not redelivery)
        seq = await self._head(draft.conversation) + 1
        for _ in range(MAX_PROBES):
            await self._remember(draft, seq, dedup_ttl_ms)
            claimed = await self._claim(draft, seq)
            if claimed is not None:
                await self._advance_head(draft.conversation, claimed.message.seq)
                return claimed
            seq += 1  # the head was stale and that seq is taken: the next one may be free
        raise SeqConflict(f"{draft.conversation}: no free seq within {MAX_PROBES} of head")

    async def _remember(self, draft: MessageDraft, seq: int, dedup_ttl_ms: int) -> None:
        await self._db.execute(
            "INSERT INTO message_dedup"
            " (sender, client_msg_id, conversation, seq, submission_id, expires_ms)"
            " VALUES (?, ?, ?, ?, ?, ?) USING TTL ?",
            [
                draft.sender,
                draft.client_msg_id,
                draft.conversation,
                seq,
                draft.submission_id,
                draft.ts + dedup_ttl_ms,
                max(1, dedup_ttl_ms // 1000) + 3600,
            ],
        )

    async def _claim(self, draft: MessageDraft, seq: int) -> AppendResult | None:
        """Write the message at ``seq`` unless taken (None). The same (sender, client_msg_id)
        already there is this submission's own earlier write when the submission ids match
        (finish it), else a concurrent resend (a duplicate)."""
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
        params = [
            message.conversation,
            message.seq,
            message.msg_id,
            message.sender,
            message.sender_device,
            message.client_msg_id,
            message.ts,
            json.dumps(message.content, separators=(",", ":")),
            bucket_of(seq),
            draft.submission_id,
        ]
        for attempt in range(CAS_ATTEMPTS):
            try:
                rows = await self._db.execute(
                    f"INSERT INTO messages ({_COLUMNS}, bucket, submission_id)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, false, false, ?, ?) IF NOT EXISTS",
                    params,
                )
                break
            except BackendUnavailable as exc:
                # A Paxos round that timed out under contention may or may not have applied;
                # the same IF NOT EXISTS again finds out (our own row reads as this
                # submission's), so it is safe to retry.
                if not isinstance(exc.__cause__, WriteTimeout) or attempt == CAS_ATTEMPTS - 1:
                    raise
                await asyncio.sleep(random.uniform(0.05, 0.2) * (attempt + 1))
        row = rows[0]
        if row.applied:
            return AppendResult(message, duplicate=False)
        existing = _message(row)
        if not _same_submission(existing, draft):
            return None
        own = bool(draft.submission_id) and row.submission_id == draft.submission_id
        return AppendResult(existing, duplicate=not own)

    async def _advance_head(self, conversation: str, seq: int) -> None:
        # Single writer per conversation: a plain write is enough, and a stale writer that
        # lowers the head only costs the next writer a probe, never a lost message.
        await self._db.execute(
            "UPDATE conversation_heads SET last_seq = ? WHERE conversation = ?",
            [seq, conversation],
        )

    async def _head(self, conversation: str) -> int:
        rows = await self._db.execute(
            "SELECT last_seq FROM conversation_heads WHERE conversation = ?", [conversation]
        )
        return rows[0].last_seq if rows else 0

    async def read_after(self, conversation: str, after_seq: int, limit: int) -> list[Message]:
        """Messages with ``seq > after_seq``, ascending, across buckets."""
        head = await self._head(conversation)
        found: list[Message] = []
        bucket = bucket_of(after_seq + 1)
        while len(found) < limit and bucket <= bucket_of(head + MAX_PROBES):
            rows = await self._db.execute(
                f"SELECT {_COLUMNS} FROM messages WHERE conversation = ? AND bucket = ?"
                " AND seq > ? ORDER BY seq ASC LIMIT ?",
                [conversation, bucket, after_seq, limit - len(found)],
            )
            found.extend(_message(row) for row in rows)
            bucket += 1
        return found

    async def read_before(
        self, conversation: str, before_seq: int | None, limit: int
    ) -> list[Message]:
        """Messages with ``seq < before_seq``, newest first, across buckets."""
        if before_seq is None:
            before_seq = await self._head(conversation) + MAX_PROBES + 1
        found: list[Message] = []
        bucket = bucket_of(before_seq - 1)
        while len(found) < limit and bucket >= 0 and before_seq > 1:
            rows = await self._db.execute(
                f"SELECT {_COLUMNS} FROM messages WHERE conversation = ? AND bucket = ?"
                " AND seq < ? ORDER BY seq DESC LIMIT ?",
                [conversation, bucket, before_seq, limit - len(found)],
            )
            found.extend(_message(row) for row in rows)
            bucket -= 1
        return found

    async def count_unread(self, conversation: str, reader: str, after_seq: int) -> int:
        """Messages from others after ``after_seq``, not recalled (at most the scan limit)."""
        head = await self._head(conversation)
        count, scanned, bucket = 0, 0, bucket_of(after_seq + 1)
        while scanned < UNREAD_SCAN_LIMIT and bucket <= bucket_of(head):
            rows = await self._db.execute(
                "SELECT sender, recalled FROM messages WHERE conversation = ? AND bucket = ?"
                " AND seq > ? LIMIT ?",
                [conversation, bucket, after_seq, UNREAD_SCAN_LIMIT - scanned],
            )
            scanned += len(rows)
            count += sum(1 for row in rows if row.sender != reader and not row.recalled)
            bucket += 1
        return count

    async def recall(self, conversation: str, seq: int) -> Message | None:
        """Set ``recalled`` and erase the content (a lightweight transaction, so it orders
        with ``edit``); the message after, or None."""
        rows = await self._db.execute(
            "UPDATE messages SET recalled = true, content = null"
            " WHERE conversation = ? AND bucket = ? AND seq = ? IF EXISTS",
            [conversation, bucket_of(seq), seq],
        )
        if not rows[0].applied:
            return None
        return await self.get(conversation, seq)

    async def edit(self, conversation: str, seq: int, content: dict[str, Any]) -> Message | None:
        """Replace the content only ``IF recalled = false`` (which no missing row meets);
        the message after, or None."""
        await self._db.execute(
            "UPDATE messages SET content = ?, edited = true"
            " WHERE conversation = ? AND bucket = ? AND seq = ? IF recalled = false",
            [json.dumps(content, separators=(",", ":")), conversation, bucket_of(seq), seq],
        )
        return await self.get(conversation, seq)
