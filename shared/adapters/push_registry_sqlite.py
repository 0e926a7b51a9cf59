"""PushRegistry on SQLite (embedded default)."""

from __future__ import annotations

import sqlite3

from imfaas.shared.adapters.sqlite_database import SqliteDatabase
from imfaas.shared.ports.push_registry import FINAL_STATUSES, PushPreferences, PushRecord

MIGRATIONS = [
    """
    CREATE TABLE push_preferences (
        user_id TEXT PRIMARY KEY,
        preview INTEGER NOT NULL,
        dnd_start_min INTEGER,
        dnd_end_min INTEGER,
        utc_offset_min INTEGER NOT NULL
    );
    CREATE TABLE push_mutes (
        user_id TEXT NOT NULL,
        conversation TEXT NOT NULL,
        until_ms INTEGER NOT NULL,
        PRIMARY KEY (user_id, conversation)
    );
    CREATE TABLE push_records (
        key TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        device_id TEXT NOT NULL,
        provider TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        latency_ms REAL NOT NULL,
        provider_message_id TEXT,
        reason TEXT,
        updated_ms INTEGER NOT NULL
    );
    CREATE INDEX push_records_by_user ON push_records (user_id, updated_ms)
    """,
]

_RECORD_COLUMNS = (
    "key, user_id, device_id, provider, status, attempts, latency_ms, provider_message_id,"
    " reason, updated_ms"
)
_FINAL_MARKS = ", ".join("?" * len(FINAL_STATUSES))

# One statement: a new key starts at attempt 1; a known one counts one more attempt unless it
# reached a final status, in which case nothing changes and no row comes back.
_CLAIM = (
    f"INSERT INTO push_records ({_RECORD_COLUMNS})"
    " VALUES (?, ?, ?, ?, 'pending', 1, 0, NULL, NULL, ?)"
    " ON CONFLICT (key) DO UPDATE SET attempts = push_records.attempts + 1,"
    " status = 'pending', updated_ms = excluded.updated_ms"
    f" WHERE push_records.status NOT IN ({_FINAL_MARKS})"
    f" RETURNING {_RECORD_COLUMNS}"
)


def _record(row: sqlite3.Row) -> PushRecord:
    return PushRecord(**dict(row))


class SqlitePushRegistry:
    """Preferences, conversation mutes and push records in three tables."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    async def migrate(self) -> None:
        """Create or upgrade this adapter's tables."""
        await self._db.migrate("push", MIGRATIONS)

    async def preferences(self, user_id: str) -> PushPreferences:
        """The user's preferences (the defaults when never set)."""
        rows = await self._db.query(
            "SELECT preview, dnd_start_min, dnd_end_min, utc_offset_min FROM push_preferences"
            " WHERE user_id = ?",
            (user_id,),
        )
        if not rows:
            return PushPreferences(user_id)
        row = rows[0]
        return PushPreferences(
            user_id,
            bool(row["preview"]),
            row["dnd_start_min"],
            row["dnd_end_min"],
            row["utc_offset_min"],
        )

    async def set_preferences(self, prefs: PushPreferences) -> None:
        """Replace the user's preferences."""
        await self._db.write(
            "INSERT INTO push_preferences"
            " (user_id, preview, dnd_start_min, dnd_end_min, utc_offset_min)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET"
            " preview = excluded.preview, dnd_start_min = excluded.dnd_start_min,"
            " dnd_end_min = excluded.dnd_end_min, utc_offset_min = excluded.utc_offset_min",
            (
                prefs.user_id,
                int(prefs.preview),
                prefs.dnd_start_min,
                prefs.dnd_end_min,
                prefs.utc_offset_min,
            ),
        )

    async def conversation_mutes(self, user_id: str, conversations: list[str]) -> dict[str, int]:
        """``until`` of the user's push mutes among ``conversations``."""
        if not conversations:
            return {}
        marks = ",".join("?" * len(conversations))
        rows = await self._db.query(
            "SELECT conversation, until_ms FROM push_mutes"
            f" WHERE user_id = ? AND conversation IN ({marks})",
            [user_id, *conversations],
        )
        return {row["conversation"]: row["until_ms"] for row in rows}

    async def set_conversation_mute(self, user_id: str, conversation: str, until_ms: int) -> None:
        """Mute pushes of one conversation until ``until_ms`` (0 lifts it)."""
        if until_ms == 0:
            await self._db.write(
                "DELETE FROM push_mutes WHERE user_id = ? AND conversation = ?",
                (user_id, conversation),
            )
            return
        await self._db.write(
            "INSERT INTO push_mutes (user_id, conversation, until_ms) VALUES (?, ?, ?)"
            " ON CONFLICT (user_id, conversation) DO UPDATE SET until_ms = excluded.until_ms",
            (user_id, conversation, until_ms),
        )

    async def claim(
        self, key: str, user_id: str, device_id: str, provider: str, now_ms: int
    ) -> PushRecord | None:
        """Count one more attempt in one upsert; None when the key's status is final."""
        rows = await self._db.write(
            _CLAIM, (key, user_id, device_id, provider, now_ms, *FINAL_STATUSES)
        )
        return _record(rows[0]) if rows else None

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
        await self._db.write(
            "UPDATE push_records SET status = ?, latency_ms = ?, provider_message_id = ?,"
            " reason = ?, updated_ms = ?"
            f" WHERE key = ? AND status NOT IN ({_FINAL_MARKS})",
            (status, latency_ms, provider_message_id, reason, now_ms, key, *FINAL_STATUSES),
        )

    async def record(self, key: str) -> PushRecord | None:
        """One record, or None."""
        rows = await self._db.query(
            f"SELECT {_RECORD_COLUMNS} FROM push_records WHERE key = ?", (key,)
        )
        return _record(rows[0]) if rows else None

    async def records_for_user(self, user_id: str) -> list[PushRecord]:
        """The user's records, oldest update first (ties by key)."""
        rows = await self._db.query(
            f"SELECT {_RECORD_COLUMNS} FROM push_records WHERE user_id = ?"
            " ORDER BY updated_ms, key",
            (user_id,),
        )
        return [_record(row) for row in rows]
