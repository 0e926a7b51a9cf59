"""UserDirectory on SQLite (embedded default)."""

from __future__ import annotations

import sqlite3

from imfaas.shared.adapters.sqlite_database import SqliteDatabase
from imfaas.shared.errors import Conflict
from imfaas.shared.ports.user_directory import UserRecord

MIGRATIONS = [
    """
    CREATE TABLE users (
        user_id TEXT PRIMARY KEY,
        username TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL,
        created_ms INTEGER NOT NULL
    )
    """,
]


class SqliteUserDirectory:
    """Users in the ``users`` table."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    async def migrate(self) -> None:
        """Create or upgrade this adapter's tables."""
        await self._db.migrate("users", MIGRATIONS)

    async def create_user(self, user: UserRecord) -> None:
        """Insert a user; raise ``Conflict`` if the username is taken."""

        def insert(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(
                    "INSERT INTO users (user_id, username, password_hash, created_ms)"
                    " VALUES (?, ?, ?, ?)",
                    (user.user_id, user.username, user.password_hash, user.created_ms),
                )
            except sqlite3.IntegrityError as exc:
                raise Conflict("username is taken") from exc

        await self._db.transaction(insert)

    async def get_by_username(self, username: str) -> UserRecord | None:
        """The user with this username, or None."""
        rows = await self._db.query(
            "SELECT user_id, username, password_hash, created_ms FROM users WHERE username = ?",
            (username,),
        )
        return UserRecord(**dict(rows[0])) if rows else None

    async def existing_users(self, user_ids: list[str]) -> set[str]:
        """The subset of ``user_ids`` that exist."""
        if not user_ids:
            return set()
        marks = ",".join("?" * len(user_ids))
        rows = await self._db.query(
            f"SELECT user_id FROM users WHERE user_id IN ({marks})", list(user_ids)
        )
        return {row["user_id"] for row in rows}
