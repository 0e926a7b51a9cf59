"""DeviceRegistry on SQLite (embedded default)."""

from __future__ import annotations

import sqlite3

from imfaas.shared.adapters.sqlite_database import SqliteDatabase
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
    # Seats: one row per (user, platform class, slot); device_id '' is a free seat.
    """
    CREATE TABLE device_seats (
        user_id TEXT NOT NULL,
        seat TEXT NOT NULL,
        slot INTEGER NOT NULL,
        device_id TEXT NOT NULL,
        assigned_ms INTEGER NOT NULL,
        PRIMARY KEY (user_id, seat, slot)
    );
    CREATE INDEX device_seats_device ON device_seats (user_id, device_id);
    CREATE TABLE push_tokens (
        user_id TEXT NOT NULL,
        device_id TEXT NOT NULL,
        provider TEXT NOT NULL,
        token TEXT NOT NULL,
        updated_ms INTEGER NOT NULL,
        PRIMARY KEY (user_id, device_id)
    );
    CREATE INDEX push_tokens_token ON push_tokens (provider, token)
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
        await self._db.transaction(lambda conn: _insert_family(conn, family))

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
        """Revoke every unrevoked family of the device, free its seats, drop its push token."""
        return await self._db.transaction(lambda conn: _revoke_device(conn, user_id, device_id))

    async def create_seated_family(
        self, family: RefreshFamily, seat: Seat, now_ms: int
    ) -> Displaced | None:
        """Insert the family and take a seat in one ``BEGIN IMMEDIATE`` transaction."""
        if seat.limit < 1:
            raise ValueError(f"seat {seat.name!r} needs a limit of at least 1")

        def take(conn: sqlite3.Connection) -> Displaced | None:
            _insert_family(conn, family)
            conn.executemany(
                "INSERT OR IGNORE INTO device_seats (user_id, seat, slot, device_id, assigned_ms)"
                " VALUES (?, ?, ?, ?, 0)",
                [(family.user_id, seat.name, slot, FREE) for slot in range(seat.limit)],
            )
            holders = [
                SeatHolder(*row)
                for row in conn.execute(
                    "SELECT slot, device_id, assigned_ms FROM device_seats"
                    " WHERE user_id = ? AND seat = ? AND slot < ? ORDER BY slot",
                    (family.user_id, seat.name, seat.limit),
                )
            ]
            previous = choose_seat(holders, family.device_id)
            conn.execute(
                "UPDATE device_seats SET device_id = ?, assigned_ms = ?"
                " WHERE user_id = ? AND seat = ? AND slot = ?",
                (family.device_id, now_ms, family.user_id, seat.name, previous.slot),
            )
            loser = displaced_device(previous, family.device_id)
            if loser is None:
                return None
            return Displaced(loser, tuple(_revoke_device(conn, family.user_id, loser)))

        return await self._db.transaction(take)

    async def set_push_token(self, token: PushToken, session_id: str) -> bool:
        """Replace the device's token if the session is live; the token leaves other devices."""

        def store(conn: sqlite3.Connection) -> bool:
            live = conn.execute(
                "SELECT 1 FROM refresh_families WHERE session_id = ? AND user_id = ?"
                " AND device_id = ? AND revoked = 0 AND expires_ms > ?",
                (session_id, token.user_id, token.device_id, token.updated_ms),
            ).fetchone()
            if live is None:
                return False
            conn.execute(
                "DELETE FROM push_tokens WHERE provider = ? AND token = ?"
                " AND NOT (user_id = ? AND device_id = ?)",
                (token.provider, token.token, token.user_id, token.device_id),
            )
            conn.execute(
                "INSERT INTO push_tokens (user_id, device_id, provider, token, updated_ms)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (user_id, device_id) DO UPDATE SET"
                " provider = excluded.provider, token = excluded.token,"
                " updated_ms = excluded.updated_ms",
                (token.user_id, token.device_id, token.provider, token.token, token.updated_ms),
            )
            return True

        return await self._db.transaction(store)

    async def push_tokens(self, user_id: str) -> list[PushToken]:
        """The user's devices' push tokens, by device id."""
        rows = await self._db.query(
            "SELECT t.user_id, t.device_id, t.provider, t.token, t.updated_ms,"
            " coalesce(d.platform, '') AS platform FROM push_tokens t LEFT JOIN devices d"
            " ON d.user_id = t.user_id AND d.device_id = t.device_id"
            " WHERE t.user_id = ? ORDER BY t.device_id",
            (user_id,),
        )
        return [PushToken(**dict(row)) for row in rows]

    async def drop_push_token(self, user_id: str, device_id: str, token: str) -> bool:
        """Delete the device's token only if it is still ``token`` (a compare-and-delete)."""
        rows = await self._db.write(
            "DELETE FROM push_tokens WHERE user_id = ? AND device_id = ? AND token = ?"
            " RETURNING device_id",
            (user_id, device_id, token),
        )
        return bool(rows)

    async def is_session_live(self, session_id: str, now_ms: int) -> bool:
        """True if the family exists, is not revoked and has not expired."""
        rows = await self._db.query(
            "SELECT 1 FROM refresh_families WHERE session_id = ? AND revoked = 0"
            " AND expires_ms > ?",
            (session_id, now_ms),
        )
        return bool(rows)


def _insert_family(conn: sqlite3.Connection, family: RefreshFamily) -> None:
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


def _revoke_device(conn: sqlite3.Connection, user_id: str, device_id: str) -> list[str]:
    conn.execute(
        "UPDATE device_seats SET device_id = ?, assigned_ms = 0"
        " WHERE user_id = ? AND device_id = ?",
        (FREE, user_id, device_id),
    )
    rows = conn.execute(
        "SELECT session_id FROM refresh_families"
        " WHERE user_id = ? AND device_id = ? AND revoked = 0",
        (user_id, device_id),
    ).fetchall()
    conn.execute(
        "UPDATE refresh_families SET revoked = 1 WHERE user_id = ? AND device_id = ?",
        (user_id, device_id),
    )
    conn.execute(
        "DELETE FROM push_tokens WHERE user_id = ? AND device_id = ?", (user_id, device_id)
    )
    return [row[0] for row in rows]
