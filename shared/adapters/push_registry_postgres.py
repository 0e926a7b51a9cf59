"""PushRegistry on PostgreSQL."""

from __future__ import annotations

import asyncpg

from imfaas.shared.adapters.postgres_database import PostgresDatabase
from imfaas.shared.ports.push_registry import FINAL_STATUSES, PushPreferences, PushRecord

MIGRATIONS = [
    """
    CREATE TABLE push_preferences (
        user_id TEXT PRIMARY KEY,
        preview BOOLEAN NOT NULL,
        dnd_start_min INTEGER,
        dnd_end_min INTEGER,
        utc_offset_min INTEGER NOT NULL
    );
    CREATE TABLE push_mutes (
        user_id TEXT NOT NULL,
        conversation TEXT NOT NULL,
        until_ms BIGINT NOT NULL,
        PRIMARY KEY (user_id, conversation)
    );
    CREATE TABLE push_records (
        key TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        device_id TEXT NOT NULL,
        provider TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        latency_ms DOUBLE PRECISION NOT NULL,
        provider_message_id TEXT,
        reason TEXT,
        updated_ms BIGINT NOT NULL
    );
    CREATE INDEX push_records_by_user ON push_records (user_id, updated_ms)
    """,
]

_RECORD_COLUMNS = (
    "key, user_id, device_id, provider, status, attempts, latency_ms, provider_message_id,"
    " reason, updated_ms"
)

# One statement: a new key starts at attempt 1; a known one counts one more attempt unless it
# reached a final status, in which case nothing changes and no row comes back. A concurrent
# claim of the same key waits for the row lock and then sees the committed count.
_CLAIM = (
    f"INSERT INTO push_records ({_RECORD_COLUMNS})"
    " VALUES ($1, $2, $3, $4, 'pending', 1, 0, NULL, NULL, $5)"
    " ON CONFLICT (key) DO UPDATE SET attempts = push_records.attempts + 1,"
    " status = 'pending', updated_ms = excluded.updated_ms"
    " WHERE push_records.status <> ALL($6::text[])"
    f" RETURNING {_RECORD_COLUMNS}"
)


def _record(row: asyncpg.Record) -> PushRecord:
    return PushRecord(**dict(row))


class PostgresPushRegistry:
    """Preferences, conversation mutes and push records in three tables."""

    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db

    async def migrate(self) -> None:
        """Create or upgrade this adapter's tables."""
        await self._db.migrate("push", MIGRATIONS)

    async def preferences(self, user_id: str) -> PushPreferences:
        """The user's preferences (the defaults when never set)."""
        async with self._db.connection() as conn:
            row = await conn.fetchrow(
                "SELECT preview, dnd_start_min, dnd_end_min, utc_offset_min"
                " FROM push_preferences WHERE user_id = $1",
                user_id,
            )
        if row is None:
            return PushPreferences(user_id)
        return PushPreferences(user_id, **dict(row))

    async def set_preferences(self, prefs: PushPreferences) -> None:
        """Replace the user's preferences."""
        async with self._db.connection() as conn:
            await conn.execute(
                "INSERT INTO push_preferences"
                " (user_id, preview, dnd_start_min, dnd_end_min, utc_offset_min)"
                " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (user_id) DO UPDATE SET"
                " preview = excluded.preview, dnd_start_min = excluded.dnd_start_min,"
                " dnd_end_min = excluded.dnd_end_min, utc_offset_min = excluded.utc_offset_min",
                prefs.user_id,
                prefs.preview,
                prefs.dnd_start_min,
                prefs.dnd_end_min,
                prefs.utc_offset_min,
            )

    async def conversation_mutes(self, user_id: str, conversations: list[str]) -> dict[str, int]:
        """``until`` of the user's push mutes among ``conversations``."""
        if not conversations:
            return {}
        async with self._db.connection() as conn:
            rows = await conn.fetch(
                "SELECT conversation, until_ms FROM push_mutes"
                " WHERE user_id = $1 AND conversation = ANY($2::text[])",
                user_id,
                list(conversations),
            )
        return {row["conversation"]: row["until_ms"] for row in rows}

    async def set_conversation_mute(self, user_id: str, conversation: str, until_ms: int) -> None:
        """Mute pushes of one conversation until ``until_ms`` (0 lifts it)."""
        async with self._db.connection() as conn:
            if until_ms == 0:
                await conn.execute(
                    "DELETE FROM push_mutes WHERE user_id = $1 AND conversation = $2",
                    user_id,
                    conversation,
                )
                return
            await conn.execute(
                "INSERT INTO push_mutes (user_id, conversation, until_ms) VALUES ($1, $2, $3)"
                " ON CONFLICT (user_id, conversation) DO UPDATE SET until_ms = excluded.until_ms",
                user_id,
                conversation,
                until_ms,
            )

    async def claim(
        self, key: str, user_id: str, device_id: str, provider: str, now_ms: int
    ) -> PushRecord | None:
        """Count one more attempt in one upsert; None when the key's status is final."""
        async with self._db.connection() as conn:
            row = await conn.fetchrow(
                _CLAIM, key, user_id, device_id, provider, now_ms, list(FINAL_STATUSES)
            )
        return _record(row) if row else None

    async def finish(
        self,
        key: str,
        status: str,
        latency_ms: float,
        provider_message_id: str | None,
        reason: str | None,
        now_ms: int,
    ) -> None:
        """Set the outcome of the latest attempt unless one already reached a final status."""
        async with self._db.connection() as conn:
            await conn.execute(
                "UPDATE push_records SET status = $1, latency_ms = $2, provider_message_id = $3,"
                " reason = $4, updated_ms = $5 WHERE key = $6 AND status <> ALL($7::text[])",
                status,
                latency_ms,
                provider_message_id,
                reason,
                now_ms,
                key,
                list(FINAL_STATUSES),
            )

    async def record(self, key: str) -> PushRecord | None:
        """One record, or None."""
        async with self._db.connection() as conn:
            row = await conn.fetchrow(
                f"SELECT {_RECORD_COLUMNS} FROM push_records WHERE key = $1", key
            )
        return _record(row) if row else None

    async def records_for_user(self, user_id: str) -> list[PushRecord]:
        """The user's records, oldest update first (ties by key)."""
        async with self._db.connection() as conn:
            rows = await conn.fetch(
                f"SELECT {_RECORD_COLUMNS} FROM push_records WHERE user_id = $1"
                ' ORDER BY updated_ms, key COLLATE "C"',
                user_id,
            )
        return [_record(row) for row in rows]
