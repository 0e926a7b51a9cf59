"""DeviceRegistry on SQLite (embedded default)."""

from __future__ import annotations

import sqlite3

from imfaas.shared.adapters.sqlite_database import SqliteDatabase
from imfaas.shared.ports.device_registry import DeviceRecord, RefreshFamily, RotateOutcome

MIGRATIONS = [
    """
    CREATE TABLE devices (
        user_id TEXT NOT NULL,
        device_id TEXT NOT NULL,
        platform TEXT NOT NULL,
        last_login_ms INTEGER NOT NULL,
        PRIMARY KEY (user_id, device_id)
    );
    CREATE TABLE refresh_families (
        session_id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        device_id TEXT NOT NULL,
        platform TEXT NOT NULL,
        token_hash TEXT NOT NULL,
        generation INTEGER NOT NULL,
        expires_ms INTEGER NOT NULL,
        revoked INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX refresh_families_device ON refresh_families (user_id, device_id)
    """,
]

_FAMILY_COLUMNS = (
    "session_id, user_id, device_id, platform, token_hash, generation, expires_ms, revoked"
)


def _family(row: sqlite3.Row) -> RefreshFamily:
    values = dict(row)
    values["revoked"] = bool(values["revoked"])
    return RefreshFamily(**values)


class SqliteDeviceRegistry:
    """Devices and refresh families in two tables."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    async def migrate(self) -> None:
        """Create or upgrade this adapter's tables."""
        await self._db.migrate("devices", MIGRATIONS)

    async def upsert_device(self, device: DeviceRecord) -> None:
        """Create or update a device."""

        def upsert(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO devices (user_id, device_id, platform, last_login_ms)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (user_id, device_id) DO UPDATE SET"
                " platform = excluded.platform, last_login_ms = excluded.last_login_ms",
                (device.user_id, device.device_id, device.platform, device.last_login_ms),
            )

        await self._db.transaction(upsert)

    async def create_family(self, family: RefreshFamily) -> None:
        """Record a new refresh family."""

        def insert(conn: sqlite3.Connection) -> None:
            conn.execute(
                f"INSERT INTO refresh_families ({_FAMILY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    family.session_id,
                    family.user_id,
                    family.device_id,
                    family.platform,
                    family.token_hash,
                    family.generation,
                    family.expires_ms,
                    int(family.revoked),
                ),
            )

        await self._db.transaction(insert)

    async def rotate(
        self, session_id: str, presented_hash: str, new_hash: str, now_ms: int
    ) -> tuple[RotateOutcome, RefreshFamily | None]:
        """Compare-and-set the family's token hash; revoke the family on reuse."""

        def swap(conn: sqlite3.Connection) -> tuple[RotateOutcome, RefreshFamily | None]:
            row = conn.execute(
                f"SELECT {_FAMILY_COLUMNS} FROM refresh_families WHERE session_id = ?",
                (session_id,),
            ).fetchone()
            if row is None:
                return RotateOutcome.INVALID, None
            family = _family(row)
            if family.revoked or family.expires_ms <= now_ms:
                return RotateOutcome.INVALID, family
            if family.token_hash != presented_hash:
                conn.execute(
                    "UPDATE refresh_families SET revoked = 1 WHERE session_id = ?", (session_id,)
                )
                return RotateOutcome.REUSED, family
            conn.execute(
                "UPDATE refresh_families SET token_hash = ?, generation = generation + 1"
                " WHERE session_id = ?",
                (new_hash, session_id),
            )
            return RotateOutcome.ROTATED, family

        return await self._db.transaction(swap)

    async def revoke_device(self, user_id: str, device_id: str) -> list[str]:
        """Revoke every unrevoked family of the device; return their session ids."""

        def revoke(conn: sqlite3.Connection) -> list[str]:
            rows = conn.execute(
                "SELECT session_id FROM refresh_families"
                " WHERE user_id = ? AND device_id = ? AND revoked = 0",
                (user_id, device_id),
            ).fetchall()
            conn.execute(
                "UPDATE refresh_families SET revoked = 1 WHERE user_id = ? AND device_id = ?",
                (user_id, device_id),
            )
            return [row[0] for row in rows]

        return await self._db.transaction(revoke)

    async def is_session_live(self, session_id: str, now_ms: int) -> bool:
        """True if the family exists, is not revoked and has not expired."""
        rows = await self._db.query(
            "SELECT 1 FROM refresh_families WHERE session_id = ? AND revoked = 0"
            " AND expires_ms > ?",
            (session_id, now_ms),
        )
        return bool(rows)
