"""PostgreSQL trouble reaches callers as BackendUnavailable (503, retried), never internal."""

from __future__ import annotations

import contextlib

import asyncpg
import pytest

from imfaas.shared.adapters.postgres_database import PostgresDatabase
from imfaas.shared.errors import BackendUnavailable


class BrokenPool:
    """A pool whose connections fail as asyncpg's do after a server restart."""

    def __init__(self, error: Exception) -> None:
        self._error = error

    @contextlib.asynccontextmanager
    async def acquire(self, timeout: float):
        raise self._error
        yield


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.InternalClientError("cannot switch to state 15; another operation is in progress"),
        asyncpg.InterfaceError("connection is closed"),
        ConnectionResetError("reset by peer"),
        TimeoutError(),
    ],
    ids=["internal-client-state", "interface", "reset", "timeout"],
)
async def test_a_broken_pooled_connection_is_backend_unavailable(error):
    db = PostgresDatabase("postgresql://x@127.0.0.1:1/x", "s1", 1, 0.1)
    db._pool = BrokenPool(error)  # type: ignore[assignment]

    with pytest.raises(BackendUnavailable):
        async with db.connection():
            pass
    assert await db.ping() is False
