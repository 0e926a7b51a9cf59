"""RelationshipStore on PostgreSQL."""

from __future__ import annotations

import time

import asyncpg

from imfaas.shared.adapters.postgres_database import PostgresDatabase
from imfaas.shared.ports.relationship_store import AcceptOutcome, Relations, RequestOutcome

MIGRATIONS = [
    """
    CREATE TABLE friendships (
        user_id TEXT NOT NULL,
        friend_id TEXT NOT NULL,
        since_ms BIGINT NOT NULL,
        PRIMARY KEY (user_id, friend_id)
    );
    CREATE TABLE friend_requests (
        sender TEXT NOT NULL,
        recipient TEXT NOT NULL,
        message TEXT NOT NULL,
        created_ms BIGINT NOT NULL,
        PRIMARY KEY (sender, recipient)
    );
    CREATE INDEX friend_requests_by_recipient ON friend_requests (recipient);
    CREATE TABLE blocks (
        blocker TEXT NOT NULL,
        blocked TEXT NOT NULL,
        created_ms BIGINT NOT NULL,
        PRIMARY KEY (blocker, blocked)
    )
    """,
]

_FRIENDS = "SELECT 1 FROM friendships WHERE user_id = $1 AND friend_id = $2"
_REQUESTED = "SELECT 1 FROM friend_requests WHERE sender = $1 AND recipient = $2"
_BLOCKED_EITHER = (
    "SELECT 1 FROM blocks WHERE (blocker = $1 AND blocked = $2) OR (blocker = $2 AND blocked = $1)"
)


def _now_ms() -> int:
    return int(time.time() * 1000)


async def _lock_pair(conn: asyncpg.Connection, a: str, b: str) -> None:
    """Serialize the writes on one pair of users until the transaction ends."""
    low, high = sorted((a, b))
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"rel:{low}:{high}")


async def _unlink(conn: asyncpg.Connection, a: str, b: str) -> None:
    """Drop the friendship and the pending requests between two users."""
    await conn.execute(
        "DELETE FROM friendships WHERE (user_id = $1 AND friend_id = $2)"
        " OR (user_id = $2 AND friend_id = $1)",
        a,
        b,
    )
    await conn.execute(
        "DELETE FROM friend_requests WHERE (sender = $1 AND recipient = $2)"
        " OR (sender = $2 AND recipient = $1)",
        a,
        b,
    )


async def _befriend(conn: asyncpg.Connection, a: str, b: str) -> None:
    await _unlink(conn, a, b)
    await conn.executemany(
        "INSERT INTO friendships (user_id, friend_id, since_ms) VALUES ($1, $2, $3)",
        [(a, b, _now_ms()), (b, a, _now_ms())],
    )


class PostgresRelationshipStore:
    """Relationships in the ``friendships``, ``friend_requests`` and ``blocks`` tables."""

    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db

    async def migrate(self) -> None:
        """Create or upgrade this adapter's tables."""
        await self._db.migrate("relations", MIGRATIONS)

    async def request_friend(self, sender: str, recipient: str, message: str) -> RequestOutcome:
        """Record a request, or accept the recipient's; ``BLOCKED`` while a block stands."""
        async with self._db.transaction() as conn:
            await _lock_pair(conn, sender, recipient)
            if await conn.fetchval(_BLOCKED_EITHER, sender, recipient):
                return RequestOutcome.BLOCKED
            if await conn.fetchval(_FRIENDS, sender, recipient):
                return RequestOutcome.ALREADY_FRIENDS
            if await conn.fetchval(_REQUESTED, recipient, sender):
                await _befriend(conn, sender, recipient)
                return RequestOutcome.ACCEPTED
            if await conn.fetchval(_REQUESTED, sender, recipient):
                return RequestOutcome.ALREADY_PENDING
            await conn.execute(
                "INSERT INTO friend_requests (sender, recipient, message, created_ms)"
                " VALUES ($1, $2, $3, $4)",
                sender,
                recipient,
                message,
                _now_ms(),
            )
            return RequestOutcome.REQUESTED

    async def accept_friend(self, user: str, requester: str) -> AcceptOutcome:
        """Turn the pending request from ``requester`` into a friendship."""
        async with self._db.transaction() as conn:
            await _lock_pair(conn, user, requester)
            if await conn.fetchval(_FRIENDS, user, requester):
                return AcceptOutcome.ALREADY_FRIENDS
            if not await conn.fetchval(_REQUESTED, requester, user):
                return AcceptOutcome.NO_REQUEST
            await _befriend(conn, user, requester)
            return AcceptOutcome.ACCEPTED

    async def remove_friend(self, user: str, other: str) -> None:
        """End the friendship and pending requests either way."""
        async with self._db.transaction() as conn:
            await _lock_pair(conn, user, other)
            await _unlink(conn, user, other)

    async def block(self, user: str, other: str) -> None:
        """Block ``other``; ends the friendship and pending requests either way."""
        async with self._db.transaction() as conn:
            await _lock_pair(conn, user, other)
            await _unlink(conn, user, other)
            await conn.execute(
                "INSERT INTO blocks (blocker, blocked, created_ms) VALUES ($1, $2, $3)"
                " ON CONFLICT DO NOTHING",
                user,
                other,
                _now_ms(),
            )

    async def unblock(self, user: str, other: str) -> None:
        """Lift the block of ``other`` by ``user``."""
        async with self._db.transaction() as conn:
            await _lock_pair(conn, user, other)
            await conn.execute(
                "DELETE FROM blocks WHERE blocker = $1 AND blocked = $2", user, other
            )

    async def relations_of(self, user: str) -> Relations:
        """Friends, requests in and out, and blocked users, sorted."""
        # REPEATABLE READ: the four lists are one consistent snapshot.
        async with self._db.connection() as conn, conn.transaction(isolation="repeatable_read"):

            async def ids(sql: str) -> list[str]:
                return [row[0] for row in await conn.fetch(sql, user)]

            return Relations(
                friends=await ids(
                    "SELECT friend_id FROM friendships WHERE user_id = $1"
                    ' ORDER BY friend_id COLLATE "C"'
                ),
                pending_in=await ids(
                    "SELECT sender FROM friend_requests WHERE recipient = $1"
                    ' ORDER BY sender COLLATE "C"'
                ),
                pending_out=await ids(
                    "SELECT recipient FROM friend_requests WHERE sender = $1"
                    ' ORDER BY recipient COLLATE "C"'
                ),
                blocked=await ids(
                    'SELECT blocked FROM blocks WHERE blocker = $1 ORDER BY blocked COLLATE "C"'
                ),
            )

    async def are_friends(self, user_a: str, user_b: str) -> bool:
        """True when the two are friends."""
        async with self._db.connection() as conn:
            return bool(await conn.fetchval(_FRIENDS, user_a, user_b))

    async def is_blocked_either(self, user_a: str, user_b: str) -> bool:
        """True when either user blocks the other."""
        async with self._db.connection() as conn:
            return bool(await conn.fetchval(_BLOCKED_EITHER, user_a, user_b))
