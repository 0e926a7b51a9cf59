"""UserDirectory on PostgreSQL."""

from __future__ import annotations

import asyncpg

from imfaas.shared.adapters.postgres_database import PostgresDatabase
from imfaas.shared.errors import Conflict
from imfaas.shared.ports.user_directory import UserRecord

MIGRATIONS = [
    """
    CREATE TABLE users (
        user_id TEXT PRIMARY KEY,
        username TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL,
        created_ms BIGINT NOT NULL
    )
    """,
]


class PostgresUserDirectory:
    """Users in the ``users`` table."""

    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db

    async def migrate(self) -> None:
        """Create or upgrade this adapter's tables."""
        await self._db.migrate("users", MIGRATIONS)

    async def create_user(self, user: UserRecord) -> None:
        """Insert a user; raise ``Conflict`` if the username is taken."""
        async with self._db.connection() as conn:
            try:
                await conn.execute(
                    "INSERT INTO users (user_id, username, password_hash, created_ms)"
                    " VALUES ($1, $2, $3, $4)",
                    user.user_id,
                    user.username,
                    user.password_hash,
                    user.created_ms,
                )
            except asyncpg.UniqueViolationError as exc:
                raise Conflict("username is taken") from exc

    async def get_by_username(self, username: str) -> UserRecord | None:
        """The user with this username, or None."""
        async with self._db.connection() as conn:
            row = await conn.fetchrow(
                "SELECT user_id, username, password_hash, created_ms FROM users"
                " WHERE username = $1",
                username,
            )
        return UserRecord(**dict(row)) if row else None

    async def existing_users(self, user_ids: list[str]) -> set[str]:
        """The subset of ``user_ids`` that exist."""
        if not user_ids:
            return set()
        async with self._db.connection() as conn:
            rows = await conn.fetch(
                "SELECT user_id FROM users WHERE user_id = ANY($1::text[])", list(user_ids)
            )
        return {row["user_id"] for row in rows}
