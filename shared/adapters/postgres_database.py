"""A PostgreSQL connection pool (asyncpg), its migrations, and the mapping of its failures."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Sequence

import asyncpg

from imfaas.shared.errors import BackendUnavailable

_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")

# Everything that means "the server cannot answer now" rather than "the query is wrong".
UNAVAILABLE = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    # A pooled connection broken by a server restart can fail its setup this way ("cannot
    # switch to state 15; another operation is in progress"): the kill stream's one
    # unexplained `internal` reply.
    asyncpg.InternalClientError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
)


class PostgresDatabase:
    """One pool per process; every adapter on PostgreSQL borrows connections from it."""

    def __init__(self, dsn: str, schema: str, pool_size: int, timeout_s: float) -> None:
        if not _SCHEMA_NAME.fullmatch(schema):
            raise ValueError(f"bad PostgreSQL schema name {schema!r}")
        self._dsn = dsn
        self.schema = schema
        self._pool_size = pool_size
        self._timeout_s = timeout_s
        self._pool: asyncpg.Pool | None = None

    async def open(self) -> None:
        """Create the pool and the schema; raise ``BackendUnavailable`` if unreachable."""

        async def setup(conn: asyncpg.Connection) -> None:
            await conn.execute(f"SET search_path TO {self.schema}")

        try:
            bootstrap = await asyncpg.connect(self._dsn, timeout=self._timeout_s)
            try:
                await bootstrap.execute(f"CREATE SCHEMA IF NOT EXISTS {self.schema}")
            finally:
                await bootstrap.close()
            self._pool = await asyncpg.create_pool(
                self._dsn,
                min_size=1,
                max_size=self._pool_size,
                timeout=self._timeout_s,
                command_timeout=self._timeout_s,
                setup=setup,
            )
        except UNAVAILABLE as exc:
            raise BackendUnavailable(f"postgres: {exc!r}") from exc

    async def close(self) -> None:
        """Close the pool."""
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection; server trouble surfaces as ``BackendUnavailable``."""
        if self._pool is None:
            raise BackendUnavailable("postgres pool is not open")
        try:
            async with self._pool.acquire(timeout=self._timeout_s) as conn:
                yield conn
        except UNAVAILABLE as exc:
            raise BackendUnavailable(f"postgres: {exc!r}") from exc

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection inside a transaction (committed on success)."""
        async with self.connection() as conn, conn.transaction():
            yield conn

    async def ping(self) -> bool:
        """True when the server answers a trivial query."""
        try:
            async with self.connection() as conn:
                return await conn.fetchval("SELECT 1") == 1
        except BackendUnavailable:
            return False

    async def migrate(self, component: str, steps: Sequence[str]) -> None:
        """Apply the component's steps not yet recorded (step i is version i + 1), once, under
        an advisory lock so that processes starting together do not race."""
        async with self.transaction() as conn:
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", self.schema)
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " component TEXT NOT NULL, version INTEGER NOT NULL,"
                " applied_at TIMESTAMPTZ NOT NULL DEFAULT now(),"
                " PRIMARY KEY (component, version))"
            )
            done = {
                row["version"]
                for row in await conn.fetch(
                    "SELECT version FROM schema_migrations WHERE component = $1", component
                )
            }
            for version, sql in enumerate(steps, start=1):
                if version in done:
                    continue
                await conn.execute(sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (component, version) VALUES ($1, $2)",
                    component,
                    version,
                )
