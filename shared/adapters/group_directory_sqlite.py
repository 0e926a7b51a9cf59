"""GroupDirectory on SQLite (embedded default)."""

from __future__ import annotations

import sqlite3

from imfaas.shared.adapters.sqlite_database import SqliteDatabase
from imfaas.shared.ports.group_directory import GroupRecord, Guard, MemberRecord

MIGRATIONS = [
    """
    CREATE TABLE chat_groups (
        group_id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        owner TEXT NOT NULL,
        muted_all_until INTEGER NOT NULL DEFAULT 0,
        created_ms INTEGER NOT NULL
    );
    CREATE TABLE group_members (
        group_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        role TEXT NOT NULL,
        muted_until INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (group_id, user_id)
    ) WITHOUT ROWID;
    CREATE INDEX group_members_by_user ON group_members (user_id)
    """,
    "ALTER TABLE chat_groups ADD COLUMN anyone_invites INTEGER NOT NULL DEFAULT 0",
]

_MEMBER = "SELECT user_id, role, muted_until FROM group_members WHERE group_id = ? AND user_id = ?"


def _count(conn: sqlite3.Connection, group_id: str) -> int:
    return conn.execute(
        "SELECT count(*) FROM group_members WHERE group_id = ?", (group_id,)
    ).fetchone()[0]


def _guard_holds(conn: sqlite3.Connection, group_id: str, guard: Guard | None) -> bool:
    for user, roles in (guard or {}).items():
        row = conn.execute(_MEMBER, (group_id, user)).fetchone()
        if row is None or row[1] not in roles:
            return False
    return True


class SqliteGroupDirectory:
    """Groups in ``chat_groups``, memberships in ``group_members``."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    async def migrate(self) -> None:
        """Create or upgrade this adapter's tables."""
        await self._db.migrate("groups", MIGRATIONS)

    async def create_group(
        self,
        group_id: str,
        name: str,
        owner: str,
        members: list[str],
        now_ms: int,
        anyone_invites: bool = False,
    ) -> None:
        """Insert the group, its owner and its members."""

        def body(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO chat_groups (group_id, name, owner, created_ms, anyone_invites)"
                " VALUES (?, ?, ?, ?, ?)",
                (group_id, name, owner, now_ms, int(anyone_invites)),
            )
            rows = [(group_id, owner, "owner")]
            rows += [(group_id, user, "member") for user in sorted(set(members) - {owner})]
            conn.executemany(
                "INSERT INTO group_members (group_id, user_id, role) VALUES (?, ?, ?)", rows
            )

        await self._db.transaction(body)

    async def group(self, group_id: str) -> GroupRecord | None:
        """The group with its member count."""

        def body(conn: sqlite3.Connection) -> GroupRecord | None:
            row = conn.execute(
                "SELECT name, owner, muted_all_until, anyone_invites FROM chat_groups"
                " WHERE group_id = ?",
                (group_id,),
            ).fetchone()
            if row is None:
                return None
            count = _count(conn, group_id)
            return GroupRecord(group_id, row[0], row[1], count, row[2], bool(row[3]))

        return await self._db.transaction(body)

    async def member(self, group_id: str, user: str) -> MemberRecord | None:
        """One membership."""
        rows = await self._db.query(_MEMBER, (group_id, user))
        return MemberRecord(*rows[0]) if rows else None

    async def members(self, group_id: str, after: str, limit: int) -> list[MemberRecord]:
        """A page of members by user id (SQLite compares TEXT by code point)."""
        rows = await self._db.query(
            "SELECT user_id, role, muted_until FROM group_members"
            " WHERE group_id = ? AND user_id > ? ORDER BY user_id LIMIT ?",
            (group_id, after, limit),
        )
        return [MemberRecord(*row) for row in rows]

    async def member_ids(self, group_id: str) -> list[str]:
        """Every member's id."""
        rows = await self._db.query(
            "SELECT user_id FROM group_members WHERE group_id = ? ORDER BY user_id", (group_id,)
        )
        return [row[0] for row in rows]

    async def groups_of(self, user: str) -> list[str]:
        """The user's groups (by the member index)."""
        rows = await self._db.query(
            "SELECT group_id FROM group_members WHERE user_id = ? ORDER BY group_id", (user,)
        )
        return [row[0] for row in rows]

    async def add_members(
        self, group_id: str, users: list[str], limit: int, guard: Guard | None = None
    ) -> list[str] | None:
        """Add the new ones unless that passes ``limit`` (BEGIN IMMEDIATE serializes adds)."""

        def body(conn: sqlite3.Connection) -> list[str] | None:
            if conn.execute(
                "SELECT 1 FROM chat_groups WHERE group_id = ?", (group_id,)
            ).fetchone() is None or not _guard_holds(conn, group_id, guard):
                return None
            new = [
                user
                for user in sorted(set(users))
                if conn.execute(_MEMBER, (group_id, user)).fetchone() is None
            ]
            if _count(conn, group_id) + len(new) > limit:
                return None
            conn.executemany(
                "INSERT INTO group_members (group_id, user_id, role) VALUES (?, ?, 'member')",
                [(group_id, user) for user in new],
            )
            return new

        return await self._db.transaction(body)

    async def remove_member(self, group_id: str, user: str, guard: Guard | None = None) -> bool:
        """Drop a non-owner member."""
        return await self._changed(
            group_id,
            guard,
            "DELETE FROM group_members WHERE group_id = ? AND user_id = ? AND role <> 'owner'",
            (group_id, user),
        )

    async def set_role(
        self, group_id: str, user: str, role: str, guard: Guard | None = None
    ) -> bool:
        """Set a non-owner member's role."""
        return await self._changed(
            group_id,
            guard,
            "UPDATE group_members SET role = ? WHERE group_id = ? AND user_id = ?"
            " AND role <> 'owner'",
            (role, group_id, user),
        )

    async def set_member_mute(
        self, group_id: str, user: str, until_ms: int, guard: Guard | None = None
    ) -> bool:
        """Mute one member."""
        return await self._changed(
            group_id,
            guard,
            "UPDATE group_members SET muted_until = ? WHERE group_id = ? AND user_id = ?",
            (until_ms, group_id, user),
        )

    async def set_group_mute(
        self, group_id: str, until_ms: int, guard: Guard | None = None
    ) -> bool:
        """Mute the whole group."""
        return await self._changed(
            group_id,
            guard,
            "UPDATE chat_groups SET muted_all_until = ? WHERE group_id = ?",
            (until_ms, group_id),
        )

    async def rename(self, group_id: str, name: str, guard: Guard | None = None) -> bool:
        """Set the group's name."""
        return await self._changed(
            group_id, guard, "UPDATE chat_groups SET name = ? WHERE group_id = ?", (name, group_id)
        )

    async def set_anyone_invites(
        self, group_id: str, value: bool, guard: Guard | None = None
    ) -> bool:
        """Set who may invite."""
        return await self._changed(
            group_id,
            guard,
            "UPDATE chat_groups SET anyone_invites = ? WHERE group_id = ?",
            (int(value), group_id),
        )

    async def transfer(self, group_id: str, owner: str, new_owner: str) -> bool:
        """Swap owner and the new owner's role in one transaction."""

        def body(conn: sqlite3.Connection) -> bool:
            current = conn.execute(
                "SELECT owner FROM chat_groups WHERE group_id = ?", (group_id,)
            ).fetchone()
            target = conn.execute(_MEMBER, (group_id, new_owner)).fetchone()
            if current is None or current[0] != owner or target is None or new_owner == owner:
                return False
            conn.execute(
                "UPDATE chat_groups SET owner = ? WHERE group_id = ?", (new_owner, group_id)
            )
            conn.execute(
                "UPDATE group_members SET role = 'admin' WHERE group_id = ? AND user_id = ?",
                (group_id, owner),
            )
            conn.execute(
                "UPDATE group_members SET role = 'owner' WHERE group_id = ? AND user_id = ?",
                (group_id, new_owner),
            )
            return True

        return await self._db.transaction(body)

    async def dissolve(self, group_id: str, guard: Guard | None = None) -> bool:
        """Delete the group and every membership."""

        def body(conn: sqlite3.Connection) -> bool:
            if not _guard_holds(conn, group_id, guard):
                return False
            conn.execute("DELETE FROM group_members WHERE group_id = ?", (group_id,))
            return (
                conn.execute("DELETE FROM chat_groups WHERE group_id = ?", (group_id,)).rowcount > 0
            )

        return await self._db.transaction(body)

    async def _changed(
        self, group_id: str, guard: Guard | None, sql: str, params: tuple[object, ...]
    ) -> bool:
        def body(conn: sqlite3.Connection) -> bool:
            if not _guard_holds(conn, group_id, guard):
                return False
            return conn.execute(sql, params).rowcount > 0

        return await self._db.transaction(body)
