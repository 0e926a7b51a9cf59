"""One SQLite file, driven from a single worker thread so transactions never interleave."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from imfaas.shared.errors import BackendUnavailable

T = TypeVar("T")


class SqliteDatabase:
    """A SQLite connection owned by one thread; ``run`` executes a whole transaction there."""

    def __init__(self, path: Path | str) -> None:
        self._path = str(path)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")
        self._conn: sqlite3.Connection | None = None

    async def open(self) -> None:
        """Open the file (creating folders), WAL mode, full fsync: an ack means on disk."""
        if self._path != ":memory:":
            Path(self._path).parent.mkdir(parents=True, exist_ok=True)
        await self._call(self._open_sync)

    def _open_sync(self) -> None:
        conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=5000")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " component TEXT NOT NULL, version INTEGER NOT NULL,"
            " PRIMARY KEY (component, version))"
        )
        self._conn = conn

    async def close(self) -> None:
        """Close the connection and stop the worker thread."""
        if self._conn is not None:
            await self._call(self._conn.close)
            self._conn = None
        self._executor.shutdown(wait=True)

    async def _call(self, fn: Callable[[], T]) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, fn)
        except sqlite3.OperationalError as exc:
            raise BackendUnavailable(f"sqlite: {exc}") from exc

    async def transaction(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(conn)`` inside ``BEGIN IMMEDIATE … COMMIT``; roll back if it raises."""

        def body() -> T:
            conn = self._require()
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = fn(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return result

        return await self._call(body)

    async def query(self, sql: str, params: Sequence[object] = ()) -> list[sqlite3.Row]:
        """Run one read query and return all rows."""

        def body() -> list[sqlite3.Row]:
            conn = self._require()
            conn.row_factory = sqlite3.Row
            return list(conn.execute(sql, params).fetchall())

        return await self._call(body)

    async def write(self, sql: str, params: Sequence[object] = ()) -> list[sqlite3.Row]:
        """Run one write statement in a transaction of its own; return the rows of its
        ``RETURNING`` clause."""

        def body(conn: sqlite3.Connection) -> list[sqlite3.Row]:
            conn.row_factory = sqlite3.Row
            return list(conn.execute(sql, params).fetchall())

        return await self.transaction(body)

    async def ping(self) -> bool:
        """True when the file answers a trivial query."""
        try:
            return bool(await self.query("SELECT 1"))
        except BackendUnavailable:
            return False

    async def migrate(self, component: str, steps: Sequence[str]) -> None:
        """Apply the component's migrations not yet recorded (step i is version i + 1)."""

        def body(conn: sqlite3.Connection) -> None:
            done = {
                row[0]
                for row in conn.execute(
                    "SELECT version FROM schema_migrations WHERE component = ?", (component,)
                )
            }
            for version, sql in enumerate(steps, start=1):
                if version in done:
                    continue
                for statement in filter(None, (s.strip() for s in sql.split(";"))):
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_migrations (component, version) VALUES (?, ?)",
                    (component, version),
                )

        await self.transaction(body)

    def _require(self) -> sqlite3.Connection:
        if self._conn is None:
            raise BackendUnavailable("sqlite database is not open")
        self._conn.row_factory = sqlite3.Row
        return self._conn
