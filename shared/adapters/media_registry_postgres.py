"""MediaRegistry on PostgreSQL."""

from __future__ import annotations

import asyncpg

from imfaas.shared.adapters.postgres_database import PostgresDatabase
from imfaas.shared.errors import Conflict
from imfaas.shared.ports.media_registry import MediaUpload

MIGRATIONS = [
    """
    CREATE TABLE media_uploads (
        object_key TEXT PRIMARY KEY,
        uploader TEXT NOT NULL,
        name TEXT NOT NULL,
        size BIGINT NOT NULL,
        mime TEXT NOT NULL,
        created_ms BIGINT NOT NULL
    );
    CREATE TABLE media_references (
        object_key TEXT NOT NULL,
        conversation TEXT NOT NULL,
        PRIMARY KEY (object_key, conversation)
    )
    """,
]

_COLUMNS = "object_key, uploader, name, size, mime, created_ms"


class PostgresMediaRegistry:
    """Uploads and references in two tables."""

    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db

    async def migrate(self) -> None:
        """Create or upgrade this adapter's tables."""
        await self._db.migrate("media", MIGRATIONS)

    async def record_upload(self, upload: MediaUpload) -> None:
        """Insert an upload; ``Conflict`` if the key exists."""
        async with self._db.connection() as conn:
            try:
                await conn.execute(
                    f"INSERT INTO media_uploads ({_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)",
                    upload.object_key,
                    upload.uploader,
                    upload.name,
                    upload.size,
                    upload.mime,
                    upload.created_ms,
                )
            except asyncpg.UniqueViolationError as exc:
                raise Conflict("object key is taken") from exc

    async def get_upload(self, object_key: str) -> MediaUpload | None:
        """The upload of this key, or None."""
        async with self._db.connection() as conn:
            row = await conn.fetchrow(
                f"SELECT {_COLUMNS} FROM media_uploads WHERE object_key = $1", object_key
            )
        return MediaUpload(**dict(row)) if row else None

    async def add_reference(self, object_key: str, conversation: str) -> None:
        """Record the reference once."""
        async with self._db.connection() as conn:
            await conn.execute(
                "INSERT INTO media_references (object_key, conversation) VALUES ($1, $2)"
                " ON CONFLICT DO NOTHING",
                object_key,
                conversation,
            )

    async def conversations_referencing(self, object_key: str) -> list[str]:
        """Conversations referencing the object, sorted."""
        async with self._db.connection() as conn:
            rows = await conn.fetch(
                "SELECT conversation FROM media_references WHERE object_key = $1"
                ' ORDER BY conversation COLLATE "C"',
                object_key,
            )
        return [row["conversation"] for row in rows]
