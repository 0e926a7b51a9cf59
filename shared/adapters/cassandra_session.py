"""One cassandra-driver session per process (ScyllaDB in production, Cassandra in CI),
its CQL migrations, asyncio bridging and the mapping of its failures.

Only CQL that ScyllaDB runs is used: protocol v4, no Cassandra-5-only indexes (SAI),
lightweight transactions for fencing.
"""

from __future__ import annotations

import asyncio
import re
from collections import namedtuple
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from cassandra import ConsistencyLevel, DriverException, OperationTimedOut
from cassandra.cluster import (
    EXEC_PROFILE_DEFAULT,
    Cluster,
    ExecutionProfile,
    NoHostAvailable,
    ResponseFuture,
    Session,
)
from cassandra.policies import ExponentialReconnectionPolicy, RoundRobinPolicy
from cassandra.query import PreparedStatement, named_tuple_factory

from imfaas.shared.errors import BackendUnavailable

_KEYSPACE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,47}")
# The driver's default back-off grows to 10 minutes: after a node restart the message path
# would stay down long after the node is back. Retry at most every few seconds instead.
RECONNECT_BASE_S = 0.5
RECONNECT_MAX_S = 4.0
UNAVAILABLE = (NoHostAvailable, OperationTimedOut, DriverException, OSError)


@lru_cache(maxsize=512)
def _row_class(columns: tuple[str, ...]) -> Any:
    # The names the driver's own factory would give ("[applied]" reads as ``applied``).
    return namedtuple("Row", [re.sub(r"\W", "_", c.strip('[]"')) for c in columns])


def cached_row_factory(columns: list[str], rows: list[Any]) -> list[Any]:
    """Rows as named tuples, like the driver's default, with one class per column list.

    The default builds a new namedtuple class for every result (an ``exec`` costing tens of
    µs); the store reads three result sets per message and a history page one per page.
    """
    try:
        row = _row_class(tuple(columns))
    except ValueError:  # a column name namedtuple refuses: the driver's own fallback
        return named_tuple_factory(columns, rows)
    return [row(*values) for values in rows]


class CassandraSession:
    """Opens the cluster connection and the keyspace; runs statements as awaitables."""

    def __init__(
        self, hosts: list[str], port: int, keyspace: str, replication: int, timeout_s: float
    ) -> None:
        if not _KEYSPACE_NAME.fullmatch(keyspace):
            raise ValueError(f"bad keyspace name {keyspace!r}")
        self.keyspace = keyspace
        self._hosts = hosts
        self._port = port
        self._replication = replication
        self._timeout_s = timeout_s
        self._cluster: Cluster | None = None
        self._session: Session | None = None
        self._prepared: dict[str, PreparedStatement] = {}

    async def open(self) -> None:
        """Connect (in a worker thread: the driver blocks) and create the keyspace."""
        try:
            await asyncio.to_thread(self._connect)
        except UNAVAILABLE as exc:
            raise BackendUnavailable(f"cassandra: {exc!r}") from exc

    def _connect(self) -> None:
        profile = ExecutionProfile(
            load_balancing_policy=RoundRobinPolicy(),
            consistency_level=ConsistencyLevel.LOCAL_QUORUM,
            serial_consistency_level=ConsistencyLevel.LOCAL_SERIAL,
            request_timeout=self._timeout_s,
            row_factory=cached_row_factory,
        )
        self._cluster = Cluster(
            self._hosts,
            port=self._port,
            protocol_version=4,
            execution_profiles={EXEC_PROFILE_DEFAULT: profile},
            connect_timeout=self._timeout_s,
            reconnection_policy=ExponentialReconnectionPolicy(RECONNECT_BASE_S, RECONNECT_MAX_S),
        )
        session = self._cluster.connect()
        # Our reads are bounded by LIMIT or by one user's conversations: no paging.
        session.default_fetch_size = None
        session.execute(
            f"CREATE KEYSPACE IF NOT EXISTS {self.keyspace} WITH replication ="
            f" {{'class': 'SimpleStrategy', 'replication_factor': {self._replication}}}"
        )
        session.set_keyspace(self.keyspace)
        self._session = session

    async def close(self) -> None:
        """Shut the cluster connection down."""
        if self._cluster is not None:
            await asyncio.to_thread(self._cluster.shutdown)
            self._cluster = None
            self._session = None

    async def execute(self, cql: str, params: Sequence[Any] = ()) -> list[Any]:
        """Prepare once, run, and return all rows (named tuples)."""
        session = self._require()
        statement = self._prepared.get(cql)
        if statement is None:
            # The driver has no async prepare; each statement is prepared once per process.
            try:
                statement = await asyncio.to_thread(session.prepare, cql)
            except UNAVAILABLE as exc:
                raise BackendUnavailable(f"cassandra: {exc!r}") from exc
            self._prepared[cql] = statement
        result = await self._run(session.execute_async(statement, list(params)))
        return list(result or [])

    async def execute_raw(self, cql: str) -> None:
        """Run a schema statement (not prepared)."""
        await self._run(self._require().execute_async(cql, timeout=max(self._timeout_s, 30.0)))

    async def _run(self, future: ResponseFuture) -> Any:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[Any] = loop.create_future()

        def ok(result: Any) -> None:
            loop.call_soon_threadsafe(_settle, done, result, None)

        def failed(exc: BaseException) -> None:
            loop.call_soon_threadsafe(_settle, done, None, exc)

        future.add_callbacks(ok, failed)
        try:
            return await done
        except UNAVAILABLE as exc:
            raise BackendUnavailable(f"cassandra: {exc!r}") from exc

    def _require(self) -> Session:
        if self._session is None:
            raise BackendUnavailable("cassandra session is not open")
        return self._session

    async def ping(self) -> bool:
        """True when the node answers."""
        try:
            await self.execute("SELECT release_version FROM system.local")
            return True
        except BackendUnavailable:
            return False

    async def migrate(self, component: str, steps: Sequence[str]) -> None:
        """Apply the component's CQL steps not yet recorded (step i is version i + 1).

        Each step is idempotent CQL (``IF NOT EXISTS``), so two processes racing at start-up
        both succeed; the record only saves work on later starts.
        """
        await self.execute_raw(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " component text, version int, PRIMARY KEY (component, version))"
        )
        rows = await self.execute(
            "SELECT version FROM schema_migrations WHERE component = ?", [component]
        )
        done = {row.version for row in rows}
        for version, cql in enumerate(steps, start=1):
            if version in done:
                continue
            for statement in filter(None, (s.strip() for s in cql.split(";"))):
                await self.execute_raw(statement)
            await self.execute(
                "INSERT INTO schema_migrations (component, version) VALUES (?, ?)",
                [component, version],
            )


def _settle(done: asyncio.Future[Any], result: Any, exc: BaseException | None) -> None:
    if done.done():
        return
    if exc is not None:
        done.set_exception(exc)
    else:
        done.set_result(result)
