"""DeviceRegistry on PostgreSQL."""

from __future__ import annotations

import asyncpg

from imfaas.shared.adapters.postgres_database import PostgresDatabase
from imfaas.shared.ports.device_registry import (
    DeviceRecord,
    Displaced,
    PushToken,
    RefreshFamily,
    RotateOutcome,
    Seat,
)
from imfaas.shared.seat_choice import FREE, SeatHolder, choose_seat, displaced_device

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
    # Seats: one row per (user, platform class, slot); device_id '' is a free seat.
    """
    CREATE TABLE device_seats (
        user_id TEXT NOT NULL,
        seat TEXT NOT NULL,
        slot INTEGER NOT NULL,
        device_id TEXT NOT NULL,
        assigned_ms BIGINT NOT NULL,
        PRIMARY KEY (user_id, seat, slot)
    );
    CREATE INDEX device_seats_device ON device_seats (user_id, device_id);
    CREATE TABLE push_tokens (
        user_id TEXT NOT NULL,
        device_id TEXT NOT NULL,
        provider TEXT NOT NULL,
        token TEXT NOT NULL,
        updated_ms BIGINT NOT NULL,
        PRIMARY KEY (user_id, device_id)
    );
    CREATE INDEX push_tokens_token ON push_tokens (provider, token)
    """,
]

_FAMILY_COLUMNS = (
    "session_id, user_id, device_id, platform, token_hash, generation, expires_ms, revoked"
)


def _family(row: asyncpg.Record) -> RefreshFamily:
    return RefreshFamily(**dict(row))


class PostgresDeviceRegistry:
    """Devices, refresh families, seats and push tokens; rotation locks the family row
    (``FOR UPDATE``), a login the rows of its seat class.

    Transactions lock in one order, seats, then families, then push tokens, so a login, a
    logout and a push-token update of the same device cannot deadlock."""

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
            await _insert_family(conn, family)

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
        """Revoke every unrevoked family of the device, free its seats, drop its push token."""
        async with self._db.transaction() as conn:
            return await _revoke_device(conn, user_id, device_id)

    async def create_seated_family(
        self, family: RefreshFamily, seat: Seat, now_ms: int
    ) -> Displaced | None:
        """Insert the family, then lock the class's seat rows (``FOR UPDATE``) and take one."""
        if seat.limit < 1:
            raise ValueError(f"seat {seat.name!r} needs a limit of at least 1")
        async with self._db.transaction() as conn:
            await _insert_family(conn, family)
            # The rows must exist to be locked: a concurrent insert of the same free seat waits
            # for the first transaction and then does nothing, so both end up on one row.
            await conn.execute(
                "INSERT INTO device_seats (user_id, seat, slot, device_id, assigned_ms)"
                " SELECT $1, $2, slot, $4, 0 FROM generate_series(0, $3 - 1) AS slot"
                " ON CONFLICT DO NOTHING",
                family.user_id,
                seat.name,
                seat.limit,
                FREE,
            )
            rows = await conn.fetch(
                "SELECT slot, device_id, assigned_ms FROM device_seats"
                " WHERE user_id = $1 AND seat = $2 AND slot < $3 ORDER BY slot FOR UPDATE",
                family.user_id,
                seat.name,
                seat.limit,
            )
            previous = choose_seat([SeatHolder(*row) for row in rows], family.device_id)
            await conn.execute(
                "UPDATE device_seats SET device_id = $1, assigned_ms = $2"
                " WHERE user_id = $3 AND seat = $4 AND slot = $5",
                family.device_id,
                now_ms,
                family.user_id,
                seat.name,
                previous.slot,
            )
            loser = displaced_device(previous, family.device_id)
            if loser is None:
                return None
            return Displaced(loser, tuple(await _revoke_device(conn, family.user_id, loser)))

    async def set_push_token(self, token: PushToken, session_id: str) -> bool:
        """Share-lock the live family row, then replace the token: a revocation of the device
        waits for this transaction, and this one sees a revocation that came first."""
        async with self._db.transaction() as conn:
            live = await conn.fetchval(
                "SELECT 1 FROM refresh_families WHERE session_id = $1 AND user_id = $2"
                " AND device_id = $3 AND NOT revoked AND expires_ms > $4 FOR SHARE",
                session_id,
                token.user_id,
                token.device_id,
                token.updated_ms,
            )
            if live != 1:
                return False
            await conn.execute(
                "DELETE FROM push_tokens WHERE provider = $1 AND token = $2"
                " AND NOT (user_id = $3 AND device_id = $4)",
                token.provider,
                token.token,
                token.user_id,
                token.device_id,
            )
            await conn.execute(
                "INSERT INTO push_tokens (user_id, device_id, provider, token, updated_ms)"
                " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (user_id, device_id) DO UPDATE SET"
                " provider = excluded.provider, token = excluded.token,"
                " updated_ms = excluded.updated_ms",
                token.user_id,
                token.device_id,
                token.provider,
                token.token,
                token.updated_ms,
            )
            return True

    async def push_tokens(self, user_id: str) -> list[PushToken]:
        """The user's devices' push tokens, by device id."""
        async with self._db.connection() as conn:
            rows = await conn.fetch(
                "SELECT t.user_id, t.device_id, t.provider, t.token, t.updated_ms,"
                " coalesce(d.platform, '') AS platform FROM push_tokens t LEFT JOIN devices d"
                " ON d.user_id = t.user_id AND d.device_id = t.device_id"
                " WHERE t.user_id = $1 ORDER BY t.device_id",
                user_id,
            )
        return [PushToken(**dict(row)) for row in rows]

    async def drop_push_token(self, user_id: str, device_id: str, token: str) -> bool:
        """Delete the device's token only if it is still ``token`` (a compare-and-delete)."""
        async with self._db.connection() as conn:
            dropped = await conn.fetchval(
                "DELETE FROM push_tokens WHERE user_id = $1 AND device_id = $2 AND token = $3"
                " RETURNING 1",
                user_id,
                device_id,
                token,
            )
        return dropped == 1

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


async def _insert_family(conn: asyncpg.Connection, family: RefreshFamily) -> None:
    await conn.execute(
        f"INSERT INTO refresh_families ({_FAMILY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        family.session_id,
        family.user_id,
        family.device_id,
        family.platform,
        family.token_hash,
        family.generation,
        family.expires_ms,
        family.revoked,
    )


async def _revoke_device(conn: asyncpg.Connection, user_id: str, device_id: str) -> list[str]:
    """Inside the caller's transaction, in the lock order seats, families, push tokens."""
    await conn.execute(
        "UPDATE device_seats SET device_id = $1, assigned_ms = 0"
        " WHERE user_id = $2 AND device_id = $3",
        FREE,
        user_id,
        device_id,
    )
    rows = await conn.fetch(
        "UPDATE refresh_families SET revoked = TRUE"
        " WHERE user_id = $1 AND device_id = $2 AND NOT revoked RETURNING session_id",
        user_id,
        device_id,
    )
    await conn.execute(
        "DELETE FROM push_tokens WHERE user_id = $1 AND device_id = $2", user_id, device_id
    )
    return [row["session_id"] for row in rows]
