"""RelationshipStore on SQLite (embedded default)."""

from __future__ import annotations

import sqlite3
import time

from imfaas.shared.adapters.sqlite_database import SqliteDatabase
from imfaas.shared.ports.relationship_store import AcceptOutcome, Relations, RequestOutcome

MIGRATIONS = [
    """
    CREATE TABLE friendships (
        user_id TEXT NOT NULL,
        friend_id TEXT NOT NULL,
        since_ms INTEGER NOT NULL,
        PRIMARY KEY (user_id, friend_id)
    );
    CREATE TABLE friend_requests (
        sender TEXT NOT NULL,
        recipient TEXT NOT NULL,
        message TEXT NOT NULL,
        created_ms INTEGER NOT NULL,
        PRIMARY KEY (sender, recipient)
    );
    CREATE INDEX friend_requests_by_recipient ON friend_requests (recipient);
    CREATE TABLE blocks (
        blocker TEXT NOT NULL,
        blocked TEXT NOT NULL,
        created_ms INTEGER NOT NULL,
        PRIMARY KEY (blocker, blocked)
    )
    """,
]


def _exists(conn: sqlite3.Connection, sql: str, params: tuple[str, ...]) -> bool:
    return conn.execute(sql, params).fetchone() is not None


def _friends(conn: sqlite3.Connection, a: str, b: str) -> bool:
    return _exists(conn, "SELECT 1 FROM friendships WHERE user_id = ? AND friend_id = ?", (a, b))


def _requested(conn: sqlite3.Connection, sender: str, recipient: str) -> bool:
    return _exists(
        conn,
        "SELECT 1 FROM friend_requests WHERE sender = ? AND recipient = ?",
        (sender, recipient),
    )


_BLOCKED_EITHER = (
    "SELECT 1 FROM blocks WHERE (blocker = ? AND blocked = ?) OR (blocker = ? AND blocked = ?)"
)


def _blocked_either(conn: sqlite3.Connection, a: str, b: str) -> bool:
    return _exists(conn, _BLOCKED_EITHER, (a, b, b, a))


def _unlink(conn: sqlite3.Connection, a: str, b: str) -> None:
    """Drop the friendship and the pending requests between two users."""
    conn.execute(
        "DELETE FROM friendships WHERE (user_id = ? AND friend_id = ?)"
        " OR (user_id = ? AND friend_id = ?)",
        (a, b, b, a),
    )
    conn.execute(
        "DELETE FROM friend_requests WHERE (sender = ? AND recipient = ?)"
        " OR (sender = ? AND recipient = ?)",
        (a, b, b, a),
    )


def _befriend(conn: sqlite3.Connection, a: str, b: str) -> None:
    _unlink(conn, a, b)
    now = int(time.time() * 1000)
    conn.executemany(
        "INSERT INTO friendships (user_id, friend_id, since_ms) VALUES (?, ?, ?)",
        [(a, b, now), (b, a, now)],
    )


class SqliteRelationshipStore:
    """Relationships in the ``friendships``, ``friend_requests`` and ``blocks`` tables."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    async def migrate(self) -> None:
        """Create or upgrade this adapter's tables."""
        await self._db.migrate("relations", MIGRATIONS)

    async def request_friend(self, sender: str, recipient: str, message: str) -> RequestOutcome:
        """Record a request, or accept the recipient's; ``BLOCKED`` while a block stands."""

        def body(conn: sqlite3.Connection) -> RequestOutcome:
            if _blocked_either(conn, sender, recipient):
                return RequestOutcome.BLOCKED
            if _friends(conn, sender, recipient):
                return RequestOutcome.ALREADY_FRIENDS
            if _requested(conn, recipient, sender):
                _befriend(conn, sender, recipient)
                return RequestOutcome.ACCEPTED
            if _requested(conn, sender, recipient):
                return RequestOutcome.ALREADY_PENDING
            conn.execute(
                "INSERT INTO friend_requests (sender, recipient, message, created_ms)"
                " VALUES (?, ?, ?, ?)",
                (sender, recipient, message, int(time.time() * 1000)),
            )
            return RequestOutcome.REQUESTED

        return await self._db.transaction(body)

    async def accept_friend(self, user: str, requester: str) -> AcceptOutcome:
        """Turn the pending request from ``requester`` into a friendship."""

        def body(conn: sqlite3.Connection) -> AcceptOutcome:
            if _friends(conn, user, requester):
                return AcceptOutcome.ALREADY_FRIENDS
            if not _requested(conn, requester, user):
                return AcceptOutcome.NO_REQUEST
            _befriend(conn, user, requester)
            return AcceptOutcome.ACCEPTED

        return await self._db.transaction(body)

    async def remove_friend(self, user: str, other: str) -> None:
        """End the friendship and pending requests either way."""
        await self._db.transaction(lambda conn: _unlink(conn, user, other))

    async def block(self, user: str, other: str) -> None:
        """Block ``other``; ends the friendship and pending requests either way."""

        def body(conn: sqlite3.Connection) -> None:
            _unlink(conn, user, other)
            conn.execute(
                "INSERT OR IGNORE INTO blocks (blocker, blocked, created_ms) VALUES (?, ?, ?)",
                (user, other, int(time.time() * 1000)),
            )

        await self._db.transaction(body)

    async def unblock(self, user: str, other: str) -> None:
        """Lift the block of ``other`` by ``user``."""
        await self._db.transaction(
            lambda conn: conn.execute(
                "DELETE FROM blocks WHERE blocker = ? AND blocked = ?", (user, other)
            )
        )

    async def relations_of(self, user: str) -> Relations:
        """Friends, requests in and out, and blocked users, sorted."""

        def body(conn: sqlite3.Connection) -> Relations:
            def ids(sql: str) -> list[str]:
                return [row[0] for row in conn.execute(sql, (user,))]

            return Relations(
                friends=ids(
                    "SELECT friend_id FROM friendships WHERE user_id = ? ORDER BY friend_id"
                ),
                pending_in=ids(
                    "SELECT sender FROM friend_requests WHERE recipient = ? ORDER BY sender"
                ),
                pending_out=ids(
                    "SELECT recipient FROM friend_requests WHERE sender = ? ORDER BY recipient"
                ),
                blocked=ids("SELECT blocked FROM blocks WHERE blocker = ? ORDER BY blocked"),
            )

        # One transaction: the four lists are one consistent snapshot.
        return await self._db.transaction(body)

    async def are_friends(self, user_a: str, user_b: str) -> bool:
        """True when the two are friends."""
        rows = await self._db.query(
            "SELECT 1 FROM friendships WHERE user_id = ? AND friend_id = ?", (user_a, user_b)
        )
        return bool(rows)

    async def is_blocked_either(self, user_a: str, user_b: str) -> bool:
        """True when either user blocks the other."""
        rows = await self._db.query(_BLOCKED_EITHER, (user_a, user_b, user_b, user_a))
        return bool(rows)
