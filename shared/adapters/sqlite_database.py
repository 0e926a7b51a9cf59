"""One SQLite file, driven from a single worker thread so transactions never interleave.

Work reaches the thread in batches: whatever callers queued while it was busy is taken at
once, and the caller's loop is woken once per batch rather than once per call, since a
thread hand-off costs more than a small query. Reads of a batch run first, on committed
data. Its transactions are then committed together (group commit): each runs in a savepoint
of one ``BEGIN IMMEDIATE … COMMIT``, so one fsync covers them all, a failing one rolls back
alone, and none is answered before the commit is on disk.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from imfaas.shared.errors import BackendUnavailable

T = TypeVar("T")

# Calls taken per batch: bounds how long the first of them waits for the rest and the fsync.
MAX_BATCH = 256


class SqliteDatabase:
    """A SQLite connection owned by one thread; ``transaction`` runs a whole unit there."""

    def __init__(self, path: Path | str) -> None:
        self._path = str(path)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")
        self._conn: sqlite3.Connection | None = None
        # Calls waiting for the thread; a drain job is queued while this is non-empty.
        self._pending: list[_Pending] = []
        self._pending_lock = threading.Lock()

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
        conn.row_factory = sqlite3.Row
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
        """Run ``fn(conn)`` as one atomic unit that is on disk when this returns; roll it
        back if it raises. It may share its COMMIT with transactions queued beside it."""
        return await self._submit(fn, writes=True)

    async def query(self, sql: str, params: Sequence[object] = ()) -> list[sqlite3.Row]:
        """Run one read query and return all rows."""

        def body(conn: sqlite3.Connection) -> list[sqlite3.Row]:
            return conn.execute(sql, params).fetchall()

        return await self._submit(body, writes=False)

    async def _submit(self, fn: Callable[[sqlite3.Connection], T], writes: bool) -> T:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        with self._pending_lock:
            self._pending.append(_Pending(fn, future, loop, writes))
            first = len(self._pending) == 1
        if first:
            self._executor.submit(self._drain)
        try:
            return await future
        except sqlite3.OperationalError as exc:
            raise BackendUnavailable(f"sqlite: {exc}") from exc

    def _drain(self) -> None:
        while True:
            with self._pending_lock:
                batch = self._pending[:MAX_BATCH]
                del self._pending[:MAX_BATCH]
            if not batch:
                return
            reads = [p for p in batch if not p.writes]
            writes = [p for p in batch if p.writes]
            settled = [(p, self._read(p.fn)) for p in reads]
            if writes:
                settled.extend(zip(writes, self._commit_group(writes), strict=True))
            _wake_callers(settled)

    def _read(self, fn: Callable[[sqlite3.Connection], object]) -> _Outcome:
        try:
            return _Outcome(result=fn(self._require()))
        except BaseException as exc:
            return _Outcome(error=exc)

    def _commit_group(self, group: list[_Pending]) -> list[_Outcome]:
        try:
            conn = self._require()
            conn.execute("BEGIN IMMEDIATE")
        except BaseException as exc:
            return [_Outcome(error=exc)] * len(group)
        outcomes: list[_Outcome] = []
        try:
            for pending in group:
                outcomes.append(self._run_in_savepoint(conn, pending.fn))
            conn.execute("COMMIT")
        except BaseException as exc:
            # The savepoint could not be undone or the commit failed: nothing of the
            # group is on disk, so every one of them fails.
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            return [_Outcome(error=exc)] * len(group)
        return outcomes

    @staticmethod
    def _run_in_savepoint(
        conn: sqlite3.Connection, fn: Callable[[sqlite3.Connection], object]
    ) -> _Outcome:
        conn.execute("SAVEPOINT one")
        try:
            result = fn(conn)
        except Exception as exc:
            conn.execute("ROLLBACK TO one")
            conn.execute("RELEASE one")
            return _Outcome(error=exc)
        conn.execute("RELEASE one")
        return _Outcome(result=result)

    async def write(self, sql: str, params: Sequence[object] = ()) -> list[sqlite3.Row]:
        """Run one write statement in a transaction of its own; return the rows of its
        ``RETURNING`` clause."""

        def body(conn: sqlite3.Connection) -> list[sqlite3.Row]:
            return conn.execute(sql, params).fetchall()

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
        return self._conn


class _Outcome:
    """What one call came to: its result or its exception."""

    __slots__ = ("error", "result")

    def __init__(self, result: object = None, error: BaseException | None = None) -> None:
        self.result = result
        self.error = error


class _Pending:
    """A call waiting for the database thread, and the future its caller awaits."""

    __slots__ = ("fn", "future", "loop", "writes")

    def __init__(
        self,
        fn: Callable[[sqlite3.Connection], Any],
        future: asyncio.Future[Any],
        loop: asyncio.AbstractEventLoop,
        writes: bool,
    ) -> None:
        self.fn = fn
        self.future = future
        self.loop = loop
        self.writes = writes


def _wake_callers(settled: list[tuple[_Pending, _Outcome]]) -> None:
    """From the database thread: one wake-up per caller loop for the whole batch."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[_Pending, _Outcome]]] = {}
    for pending, outcome in settled:
        by_loop.setdefault(pending.loop, []).append((pending, outcome))
    for loop, results in by_loop.items():
        try:
            loop.call_soon_threadsafe(_settle, results)
        except RuntimeError:  # that loop is closed: nobody is waiting any more
            pass


def _settle(results: list[tuple[_Pending, _Outcome]]) -> None:
    for pending, outcome in results:
        future = pending.future
        if future.done():  # the caller was cancelled; what it asked for stands regardless
            continue
        if outcome.error is not None:
            future.set_exception(outcome.error)
        else:
            future.set_result(outcome.result)
