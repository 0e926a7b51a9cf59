"""MediaRegistry on SQLite (embedded default)."""

from __future__ import annotations

import sqlite3

from imfaas.shared.adapters.sqlite_database import SqliteDatabase
from imfaas.shared.errors import Conflict
from imfaas.shared.ports.media_registry import MediaUpload

MIGRATIONS = [
    """
    CREATE TABLE media_uploads (
        object_key TEXT PRIMARY KEY,
        uploader TEXT NOT NULL,
        name TEXT NOT NULL,
        size INTEGER NOT NULL,
        mime TEXT NOT NULL,
        created_ms INTEGER NOT NULL
    );
    CREATE TABLE media_references (
        object_key TEXT NOT NULL,
        conversation TEXT NOT NULL,
        PRIMARY KEY (object_key, conversation)
    )
    """,
]

_COLUMNS = "object_key, uploader, name, size, mime, created_ms"


class SqliteMediaRegistry:
    """Uploads and references in two tables."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    async def migrate(self) -> None:
        """Create or upgrade this adapter's tables."""
        await self._db.migrate("media", MIGRATIONS)

    async def record_upload(self, upload: MediaUpload) -> None:
        """Insert an upload; ``Conflict`` if the key exists."""

        def insert(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(
                    f"INSERT INTO media_uploads ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        upload.object_key,
                        upload.uploader,
                        upload.name,
                        upload.size,
                        upload.mime,
                        upload.created_ms,
                    ),
                )
            except sqlite3.IntegrityError as exc:
                raise Conflict("object key is taken") from exc

        await self._db.transaction(insert)

    async def get_upload(self, object_key: str) -> MediaUpload | None:
        """The upload of this key, or None."""
        rows = await self._db.query(
            f"SELECT {_COLUMNS} FROM media_uploads WHERE object_key = ?", (object_key,)
        )
        return MediaUpload(**dict(rows[0])) if rows else None

    async def add_reference(self, object_key: str, conversation: str) -> None:
        """Record the reference once."""

        def insert(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO media_references (object_key, conversation) VALUES (?, ?)"
                " ON CONFLICT DO NOTHING",
                (object_key, conversation),
            )

        await self._db.transaction(insert)

    async def conversations_referencing(self, object_key: str) -> list[str]:
        """Conversations referencing the object, sorted."""
        rows = await self._db.query(
            "SELECT conversation FROM media_references WHERE object_key = ? ORDER BY conversation",
            (object_key,),
        )
        return [row["conversation"] for row in rows]
