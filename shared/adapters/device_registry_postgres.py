"""DeviceRegistry on PostgreSQL."""

from __future__ import annotations

import asyncpg

from imfaas.shared.adapters.postgres_database import PostgresDatabase
from imfaas.shared.ports.device_registry import DeviceRecord, RefreshFamily, RotateOutcome

MIGRATIONS = [
    """
    CREATE TABLE devices (
        user_id TEXT NOT NULL,
        device_id TEXT NOT NULL,
        platform TEXT NOT NULL,
        last_login_ms BIGINT NOT NULL,
        PRIMARY KEY (user_id, device_id)
    );
    CREATE TABLE refresh_families (
        session_id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        device_id TEXT NOT NULL,
        platform TEXT NOT NULL,
        token_hash TEXT NOT NULL,
        generation INTEGER NOT NULL,
        expires_ms BIGINT NOT NULL,
        revoked BOOLEAN NOT NULL DEFAULT FALSE
    );
    CREATE INDEX refresh_families_device ON refresh_families (user_id, device_id)
    """,
]

_FAMILY_COLUMNS = (
    "session_id, user_id, device_id, platform, token_hash, generation, expires_ms, revoked"
)


def _family(row: asyncpg.Record) -> RefreshFamily:
    return RefreshFamily(**dict(row))


class PostgresDeviceRegistry:
    """Devices and refresh families; rotation locks the family row (``FOR UPDATE``)."""

    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db

    async def migrate(self) -> None:
        """Create or upgrade this adapter's tables."""
        await self._db.migrate("devices", MIGRATIONS)

    async def upsert_device(self, device: DeviceRecord) -> None:
        """Create or update a device."""
        async with self._db.connection() as conn:
            await conn.execute(
                "INSERT INTO devices (user_id, device_id, platform, last_login_ms)"
                " VALUES ($1, $2, $3, $4) ON CONFLICT (user_id, device_id) DO UPDATE SET"
                " platform = excluded.platform, last_login_ms = excluded.last_login_ms",
                device.user_id,
                device.device_id,
                device.platform,
                device.last_login_ms,
            )

    async def create_family(self, family: RefreshFamily) -> None:
        """Record a new refresh family."""
        async with self._db.connection() as conn:
            await conn.execute(
                f"INSERT INTO refresh_families ({_FAMILY_COLUMNS})"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                family.session_id,
                family.user_id,
                family.device_id,
                family.platform,
                family.token_hash,
                family.generation,
                family.expires_ms,
                family.revoked,
            )

    async def rotate(
        self, session_id: str, presented_hash: str, new_hash: str, now_ms: int
    ) -> tuple[RotateOutcome, RefreshFamily | None]:
        """Compare-and-set the family's token hash; revoke the family on reuse."""
        async with self._db.transaction() as conn:
            row = await conn.fetchrow(
                f"SELECT {_FAMILY_COLUMNS} FROM refresh_families WHERE session_id = $1 FOR UPDATE",
                session_id,
            )
            if row is None:
                return RotateOutcome.INVALID, None
            family = _family(row)
            if family.revoked or family.expires_ms <= now_ms:
                return RotateOutcome.INVALID, family
            if family.token_hash != presented_hash:
                await conn.execute(
                    "UPDATE refresh_families SET revoked = TRUE WHERE session_id = $1",
                    session_id,
                )
                return RotateOutcome.REUSED, family
            await conn.execute(
                "UPDATE refresh_families SET token_hash = $1, generation = generation + 1"
                " WHERE session_id = $2",
                new_hash,
                session_id,
            )
            return RotateOutcome.ROTATED, family

    async def revoke_device(self, user_id: str, device_id: str) -> list[str]:
        """Revoke every unrevoked family of the device; return their session ids."""
        async with self._db.connection() as conn:
            rows = await conn.fetch(
                "UPDATE refresh_families SET revoked = TRUE"
                " WHERE user_id = $1 AND device_id = $2 AND NOT revoked RETURNING session_id",
                user_id,
                device_id,
            )
        return [row["session_id"] for row in rows]

    async def is_session_live(self, session_id: str, now_ms: int) -> bool:
        """True if the family exists, is not revoked and has not expired."""
        async with self._db.connection() as conn:
            value = await conn.fetchval(
                "SELECT 1 FROM refresh_families WHERE session_id = $1 AND NOT revoked"
                " AND expires_ms > $2",
                session_id,
                now_ms,
            )
        return value == 1
