"""Group commit in the SQLite adapter: queued transactions share one COMMIT, each stays atomic."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest

from imfaas.shared.adapters.sqlite_database import SqliteDatabase
from imfaas.shared.errors import BackendUnavailable


@pytest.fixture
async def db(tmp_path: Path):
    database = SqliteDatabase(tmp_path / "t.db")
    await database.open()
    await database.write("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT NOT NULL)")
    yield database
    await database.close()


def insert(k: int, v: str = "x"):
    def body(conn: sqlite3.Connection) -> int:
        conn.execute("INSERT INTO t (k, v) VALUES (?, ?)", (k, v))
        return k

    return body


async def hold_thread(db: SqliteDatabase) -> tuple[threading.Event, asyncio.Task]:
    """Occupy the database thread so that what comes next queues up behind it."""
    started, release = threading.Event(), threading.Event()

    def body(conn: sqlite3.Connection) -> None:
        started.set()
        release.wait(5)

    task = asyncio.create_task(db.transaction(body))
    assert await asyncio.to_thread(started.wait, 5)
    return release, task


async def test_queued_transactions_share_a_commit_and_all_land(
    db: SqliteDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    groups: list[int] = []
    commit_group = db._commit_group

    def counting(group):
        groups.append(len(group))
        return commit_group(group)

    monkeypatch.setattr(db, "_commit_group", counting)
    release, holder = await hold_thread(db)
    writes = [asyncio.create_task(db.transaction(insert(k))) for k in range(100)]
    await asyncio.sleep(0.01)
    release.set()
    assert await asyncio.gather(*writes) == list(range(100))
    await holder
    assert groups == [1, 100]  # the holder alone, then one commit for the hundred
    assert len(await db.query("SELECT k FROM t")) == 100


async def test_a_failing_transaction_rolls_back_alone(db: SqliteDatabase) -> None:
    def half_then_fail(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO t (k, v) VALUES (1000, 'half')")
        raise ValueError("refused")

    release, holder = await hold_thread(db)
    before = asyncio.create_task(db.transaction(insert(1)))
    failing = asyncio.create_task(db.transaction(half_then_fail))
    duplicate = asyncio.create_task(db.transaction(insert(1)))  # the primary key is taken
    after = asyncio.create_task(db.transaction(insert(2)))
    await asyncio.sleep(0.01)
    release.set()
    await holder
    assert await before == 1 and await after == 2
    with pytest.raises(ValueError, match="refused"):
        await failing
    with pytest.raises(sqlite3.IntegrityError):
        await duplicate
    rows = await db.query("SELECT k, v FROM t ORDER BY k")
    assert [(r["k"], r["v"]) for r in rows] == [(1, "x"), (2, "x")]


async def test_a_cancelled_caller_does_not_undo_or_break_the_group(db: SqliteDatabase) -> None:
    release, holder = await hold_thread(db)
    cancelled = asyncio.create_task(db.transaction(insert(7)))
    kept = asyncio.create_task(db.transaction(insert(8)))
    await asyncio.sleep(0.01)
    cancelled.cancel()
    release.set()
    await holder
    assert await kept == 8
    # Like any database call cancelled after it was sent, the write may still land.
    assert {r["k"] for r in await db.query("SELECT k FROM t")} <= {7, 8}


async def test_a_group_that_cannot_begin_fails_every_member(tmp_path: Path) -> None:
    db = SqliteDatabase(tmp_path / "t.db")
    await db.open()
    await db.write("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT NOT NULL)")
    await db.transaction(lambda conn: conn.execute("PRAGMA busy_timeout=50"))
    # Another connection holds the write lock past the busy timeout.
    other = sqlite3.connect(tmp_path / "t.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        results = await asyncio.gather(
            *(db.transaction(insert(k)) for k in range(5)), return_exceptions=True
        )
        assert all(isinstance(r, BackendUnavailable) for r in results)
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert await db.transaction(insert(9)) == 9  # the database works again
    await db.close()


async def test_reads_queued_beside_writes_see_committed_data_and_then_the_writes(
    db: SqliteDatabase,
) -> None:
    await db.transaction(insert(1))
    release, holder = await hold_thread(db)
    write = asyncio.create_task(db.transaction(insert(2)))
    read = asyncio.create_task(db.query("SELECT k FROM t ORDER BY k"))
    await asyncio.sleep(0.01)
    release.set()
    await holder
    assert await write == 2
    # Queued together, the read sees committed data only, never a group still open.
    assert [r["k"] for r in await read] in ([1], [1, 2])
    assert [r["k"] for r in await db.query("SELECT k FROM t ORDER BY k")] == [1, 2]
