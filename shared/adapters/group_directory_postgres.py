"""GroupDirectory on PostgreSQL."""

from __future__ import annotations

import asyncpg

from imfaas.shared.adapters.postgres_database import PostgresDatabase
from imfaas.shared.ports.group_directory import GroupRecord, Guard, MemberRecord

MIGRATIONS = [
    """
    CREATE TABLE chat_groups (
        group_id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        owner TEXT NOT NULL,
        muted_all_until BIGINT NOT NULL DEFAULT 0,
        created_ms BIGINT NOT NULL
    );
    CREATE TABLE group_members (
        group_id TEXT NOT NULL REFERENCES chat_groups ON DELETE CASCADE,
        user_id TEXT COLLATE "C" NOT NULL,
        role TEXT NOT NULL,
        muted_until BIGINT NOT NULL DEFAULT 0,
        PRIMARY KEY (group_id, user_id)
    );
    CREATE INDEX group_members_by_user ON group_members (user_id)
    """,
    "ALTER TABLE chat_groups ADD COLUMN anyone_invites BOOLEAN NOT NULL DEFAULT false",
]

_MEMBER = (
    "SELECT user_id, role, muted_until FROM group_members WHERE group_id = $1 AND user_id = $2"
)


def _member(row: asyncpg.Record) -> MemberRecord:
    return MemberRecord(row["user_id"], row["role"], row["muted_until"])


async def _lock_group(conn: asyncpg.Connection, group_id: str) -> asyncpg.Record | None:
    """Lock the group row until the transaction ends: writes on one group are serialized."""
    return await conn.fetchrow(
        "SELECT owner FROM chat_groups WHERE group_id = $1 FOR UPDATE", group_id
    )


async def _guard_holds(conn: asyncpg.Connection, group_id: str, guard: Guard | None) -> bool:
    """Check the guard (under the group row lock, so roles cannot change meanwhile)."""
    for user, roles in (guard or {}).items():
        row = await conn.fetchrow(_MEMBER, group_id, user)
        if row is None or row["role"] not in roles:
            return False
    return True


class PostgresGroupDirectory:
    """Groups in ``chat_groups``, memberships in ``group_members``."""

    def __init__(self, db: PostgresDatabase) -> None:
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
        async with self._db.transaction() as conn:
            await conn.execute(
                "INSERT INTO chat_groups (group_id, name, owner, created_ms, anyone_invites)"
                " VALUES ($1, $2, $3, $4, $5)",
                group_id,
                name,
                owner,
                now_ms,
                anyone_invites,
            )
            rows = [(group_id, owner, "owner")]
            rows += [(group_id, user, "member") for user in sorted(set(members) - {owner})]
            await conn.executemany(
                "INSERT INTO group_members (group_id, user_id, role) VALUES ($1, $2, $3)", rows
            )

    async def group(self, group_id: str) -> GroupRecord | None:
        """The group with its member count."""
        async with self._db.connection() as conn:
            row = await conn.fetchrow(
                "SELECT name, owner, muted_all_until, anyone_invites,"
                " (SELECT count(*) FROM group_members m WHERE m.group_id = g.group_id) AS n"
                " FROM chat_groups g WHERE group_id = $1",
                group_id,
            )
        if row is None:
            return None
        return GroupRecord(
            group_id,
            row["name"],
            row["owner"],
            row["n"],
            row["muted_all_until"],
            row["anyone_invites"],
        )

    async def member(self, group_id: str, user: str) -> MemberRecord | None:
        """One membership."""
        async with self._db.connection() as conn:
            row = await conn.fetchrow(_MEMBER, group_id, user)
        return _member(row) if row else None

    async def members(self, group_id: str, after: str, limit: int) -> list[MemberRecord]:
        """A page of members in code-point order of user id (the column collates "C")."""
        async with self._db.connection() as conn:
            rows = await conn.fetch(
                "SELECT user_id, role, muted_until FROM group_members"
                " WHERE group_id = $1 AND user_id > $2 ORDER BY user_id LIMIT $3",
                group_id,
                after,
                limit,
            )
        return [_member(row) for row in rows]

    async def member_ids(self, group_id: str) -> list[str]:
        """Every member's id."""
        async with self._db.connection() as conn:
            rows = await conn.fetch(
                "SELECT user_id FROM group_members WHERE group_id = $1 ORDER BY user_id",
                group_id,
            )
        return [row[0] for row in rows]

    async def groups_of(self, user: str) -> list[str]:
        """The user's groups (by the member index)."""
        async with self._db.connection() as conn:
            rows = await conn.fetch(
                "SELECT group_id FROM group_members WHERE user_id = $1 ORDER BY group_id", user
            )
        return [row[0] for row in rows]

    async def add_members(
        self, group_id: str, users: list[str], limit: int, guard: Guard | None = None
    ) -> list[str] | None:
        """Add the new ones unless that passes ``limit``; the group row lock serializes adds."""
        async with self._db.transaction() as conn:
            if await _lock_group(conn, group_id) is None:
                return None
            if not await _guard_holds(conn, group_id, guard):
                return None
            present = {
                row[0]
                for row in await conn.fetch(
                    "SELECT user_id FROM group_members WHERE group_id = $1"
                    " AND user_id = ANY($2::text[])",
                    group_id,
                    users,
                )
            }
            new = sorted(set(users) - present)
            count = await conn.fetchval(
                "SELECT count(*) FROM group_members WHERE group_id = $1", group_id
            )
            if count + len(new) > limit:
                return None
            await conn.executemany(
                "INSERT INTO group_members (group_id, user_id, role) VALUES ($1, $2, 'member')",
                [(group_id, user) for user in new],
            )
            return new

    async def remove_member(self, group_id: str, user: str, guard: Guard | None = None) -> bool:
        """Drop a non-owner member."""
        return await self._changed(
            group_id,
            guard,
            "DELETE FROM group_members WHERE group_id = $1 AND user_id = $2 AND role <> 'owner'",
            user,
        )

    async def set_role(
        self, group_id: str, user: str, role: str, guard: Guard | None = None
    ) -> bool:
        """Set a non-owner member's role."""
        return await self._changed(
            group_id,
            guard,
            "UPDATE group_members SET role = $3 WHERE group_id = $1 AND user_id = $2"
            " AND role <> 'owner'",
            user,
            role,
        )

    async def set_member_mute(
        self, group_id: str, user: str, until_ms: int, guard: Guard | None = None
    ) -> bool:
        """Mute one member."""
        return await self._changed(
            group_id,
            guard,
            "UPDATE group_members SET muted_until = $3 WHERE group_id = $1 AND user_id = $2",
            user,
            until_ms,
        )

    async def set_group_mute(
        self, group_id: str, until_ms: int, guard: Guard | None = None
    ) -> bool:
        """Mute the whole group."""
        return await self._changed(
            group_id,
            guard,
            "UPDATE chat_groups SET muted_all_until = $2 WHERE group_id = $1",
            until_ms,
        )

    async def rename(self, group_id: str, name: str, guard: Guard | None = None) -> bool:
        """Set the group's name."""
        return await self._changed(
            group_id, guard, "UPDATE chat_groups SET name = $2 WHERE group_id = $1", name
        )

    async def set_anyone_invites(
        self, group_id: str, value: bool, guard: Guard | None = None
    ) -> bool:
        """Set who may invite."""
        return await self._changed(
            group_id,
            guard,
            "UPDATE chat_groups SET anyone_invites = $2 WHERE group_id = $1",
            value,
        )

    async def transfer(self, group_id: str, owner: str, new_owner: str) -> bool:
        """Swap owner and the new owner's role under the group row lock."""
        async with self._db.transaction() as conn:
            row = await _lock_group(conn, group_id)
            target = await conn.fetchrow(_MEMBER, group_id, new_owner)
            if row is None or row["owner"] != owner or target is None or new_owner == owner:
                return False
            await conn.execute(
                "UPDATE chat_groups SET owner = $2 WHERE group_id = $1", group_id, new_owner
            )
            await conn.execute(
                "UPDATE group_members SET role = CASE WHEN user_id = $2 THEN 'owner'"
                " ELSE 'admin' END WHERE group_id = $1 AND user_id IN ($2, $3)",
                group_id,
                new_owner,
                owner,
            )
            return True

    async def dissolve(self, group_id: str, guard: Guard | None = None) -> bool:
        """Delete the group; its memberships go with it (ON DELETE CASCADE)."""
        async with self._db.transaction() as conn:
            if await _lock_group(conn, group_id) is None:
                return False
            if not await _guard_holds(conn, group_id, guard):
                return False
            status = await conn.execute("DELETE FROM chat_groups WHERE group_id = $1", group_id)
        return status != "DELETE 0"

    async def _changed(self, group_id: str, guard: Guard | None, sql: str, *params: object) -> bool:
        async with self._db.transaction() as conn:
            if await _lock_group(conn, group_id) is None:
                return False
            if not await _guard_holds(conn, group_id, guard):
                return False
            status = await conn.execute(sql, group_id, *params)
        return not status.endswith(" 0")
