"""Builds the adapters named in settings; unknown names fail loudly at start-up."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from imfaas.shared.ports.cache import Cache
from imfaas.shared.ports.conversation_index import ConversationIndex
from imfaas.shared.ports.delivery import Delivery
from imfaas.shared.ports.device_registry import DeviceRegistry
from imfaas.shared.ports.event_bus import EventBus, EventPublisher
from imfaas.shared.ports.group_directory import GroupDirectory
from imfaas.shared.ports.media_registry import MediaRegistry
from imfaas.shared.ports.message_log import MessageLog
from imfaas.shared.ports.node_registry import NodeRegistry
from imfaas.shared.ports.object_store import ObjectStore
from imfaas.shared.ports.push_registry import PushRegistry
from imfaas.shared.ports.relationship_store import RelationshipStore
from imfaas.shared.ports.route_table import RouteTable
from imfaas.shared.ports.user_directory import UserDirectory
from imfaas.shared.settings import Settings, SettingsError

PORT_NAMES = (
    "users",
    "devices",
    "messages",
    "conversations",
    "routes",
    "cache",
    "bus",
    "delivery",
    "nodes",
    "relations",
    "media",
    "objects",
    "groups",
    "pushes",
)


class MissingPort(RuntimeError):
    """A function used a port it did not ask the factory for."""


@dataclass
class Ports:
    """The adapters one process uses; only the ports asked for are set."""

    users_: UserDirectory | None = None
    devices_: DeviceRegistry | None = None
    messages_: MessageLog | None = None
    conversations_: ConversationIndex | None = None
    routes_: RouteTable | None = None
    cache_: Cache | None = None
    bus_: EventBus | EventPublisher | None = None
    delivery_: Delivery | None = None
    nodes_: NodeRegistry | None = None
    relations_: RelationshipStore | None = None
    media_: MediaRegistry | None = None
    objects_: ObjectStore | None = None
    groups_: GroupDirectory | None = None
    pushes_: PushRegistry | None = None
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    # One check per server client opened: True when that server answers now.
    pings: list[Callable[[], Awaitable[bool]]] = field(default_factory=list)

    def _get(self, name: str) -> object:
        value = getattr(self, f"{name}_")
        if value is None:
            raise MissingPort(f"port {name!r} was not opened for this process")
        return value

    @property
    def users(self) -> UserDirectory:
        return self._get("users")  # type: ignore[return-value]

    @property
    def devices(self) -> DeviceRegistry:
        return self._get("devices")  # type: ignore[return-value]

    @property
    def messages(self) -> MessageLog:
        return self._get("messages")  # type: ignore[return-value]

    @property
    def conversations(self) -> ConversationIndex:
        return self._get("conversations")  # type: ignore[return-value]

    @property
    def routes(self) -> RouteTable:
        return self._get("routes")  # type: ignore[return-value]

    @property
    def cache(self) -> Cache:
        return self._get("cache")  # type: ignore[return-value]

    @property
    def bus(self) -> EventPublisher:
        return self._get("bus")  # type: ignore[return-value]

    @property
    def delivery(self) -> Delivery:
        return self._get("delivery")  # type: ignore[return-value]

    @property
    def nodes(self) -> NodeRegistry:
        return self._get("nodes")  # type: ignore[return-value]

    @property
    def media(self) -> MediaRegistry:
        return self._get("media")  # type: ignore[return-value]

    @property
    def objects(self) -> ObjectStore:
        return self._get("objects")  # type: ignore[return-value]

    @property
    def relations(self) -> RelationshipStore:
        return self._get("relations")  # type: ignore[return-value]

    @property
    def groups(self) -> GroupDirectory:
        return self._get("groups")  # type: ignore[return-value]

    @property
    def pushes(self) -> PushRegistry:
        return self._get("pushes")  # type: ignore[return-value]

    async def ping(self) -> bool:
        """True when every server this process uses answers (a readiness check)."""
        results = await asyncio.gather(*(ping() for ping in self.pings), return_exceptions=True)
        return all(result is True for result in results)

    async def close(self) -> None:
        """Close every adapter opened, in reverse order."""
        while self.closers:
            await self.closers.pop()()


_RELATIONAL = ("users", "devices", "relations", "media", "groups", "pushes")
_MESSAGE_STORE = ("messages", "conversations")
# The ports whose data is durable (migrated by `imfaas migrate`): databases, not hot state.
DURABLE_PORTS = _RELATIONAL + _MESSAGE_STORE


async def open_ports(settings: Settings, needs: Iterable[str] = PORT_NAMES) -> Ports:
    """Open (and, with ``auto_migrate``, migrate) the adapters for the ports in ``needs``.

    Ports on the same server share one client (one SQLite file, one PostgreSQL pool, one
    Redis client, one Cassandra session). Raises ``SettingsError`` for an unknown adapter
    name and ``BackendUnavailable`` when a server cannot be reached.
    """
    wanted = set(needs)
    unknown = wanted - set(PORT_NAMES)
    if unknown:
        raise SettingsError(f"unknown ports: {sorted(unknown)}")
    for setting in ("relational_backend", "message_backend", "route_backend", "cache_backend"):
        _check_choice(settings, setting)
    _check_choice(settings, "bus_backend")
    ports = Ports()
    try:
        await _open_all(settings, wanted, ports)
    except BaseException:
        await ports.close()
        raise
    return ports


_CHOICES = {
    "relational_backend": ("sqlite", "postgres"),
    "message_backend": ("sqlite", "scylla"),
    "route_backend": ("memory", "redis"),
    "cache_backend": ("memory", "redis"),
    "bus_backend": ("memory", "kafka"),
}


def _check_choice(settings: Settings, setting: str) -> None:
    name = getattr(settings, setting)
    if name not in _CHOICES[setting]:
        known = ", ".join(_CHOICES[setting])
        raise SettingsError(f"{setting}={name!r}; known: {known}")


class _Clients:
    """Lazily opened server clients, shared by the ports of one process."""

    def __init__(self, settings: Settings, ports: Ports) -> None:
        self._settings = settings
        self._ports = ports
        self._opened: dict[str, object] = {}

    async def sqlite(self) -> object:
        if "sqlite" not in self._opened:
            from imfaas.shared.adapters.sqlite_database import SqliteDatabase

            db = SqliteDatabase(self._settings.data_dir / "imfaas.sqlite3")
            await db.open()
            self._ports.closers.append(db.close)
            self._ports.pings.append(db.ping)
            self._opened["sqlite"] = db
        return self._opened["sqlite"]

    async def postgres(self) -> object:
        if "postgres" not in self._opened:
            from imfaas.shared.adapters.postgres_database import PostgresDatabase

            s = self._settings
            db = PostgresDatabase(
                s.postgres_dsn, s.postgres_schema, s.postgres_pool_size, s.backend_timeout_s
            )
            await db.open()
            self._ports.closers.append(db.close)
            self._ports.pings.append(db.ping)
            self._opened["postgres"] = db
        return self._opened["postgres"]

    async def cassandra(self) -> object:
        if "cassandra" not in self._opened:
            from imfaas.shared.adapters.cassandra_session import CassandraSession

            s = self._settings
            session = CassandraSession(
                [h.strip() for h in s.cassandra_hosts.split(",") if h.strip()],
                s.cassandra_port,
                s.cassandra_keyspace,
                s.cassandra_replication,
                s.backend_timeout_s,
            )
            await session.open()
            self._ports.closers.append(session.close)
            self._ports.pings.append(session.ping)
            self._opened["cassandra"] = session
        return self._opened["cassandra"]

    def redis(self) -> object:
        if "redis" not in self._opened:
            from imfaas.shared.adapters.redis_connection import open_redis, ping_redis

            client = open_redis(self._settings.redis_url, self._settings.backend_timeout_s)
            self._ports.closers.append(client.aclose)
            self._ports.pings.append(lambda: ping_redis(client))
            self._opened["redis"] = client
        return self._opened["redis"]


async def _open_all(settings: Settings, wanted: set[str], ports: Ports) -> None:
    clients = _Clients(settings, ports)
    for name in _RELATIONAL:
        if name in wanted:
            adapter = await _relational_adapter(settings, clients, name)
            if settings.auto_migrate:
                await adapter.migrate()
            setattr(ports, f"{name}_", adapter)
    for name in _MESSAGE_STORE:
        if name in wanted:
            adapter = await _message_adapter(settings, clients, name)
            if settings.auto_migrate:
                await adapter.migrate()
            setattr(ports, f"{name}_", adapter)
    if "routes" in wanted:
        ports.routes_ = _route_table(settings, clients)
    if "cache" in wanted:
        ports.cache_ = _cache(settings, clients)
    if "nodes" in wanted or "delivery" in wanted:
        ports.nodes_ = _node_registry(settings, clients)
    if "bus" in wanted:
        bus = _bus(settings)
        ports.bus_ = bus
        ports.closers.append(bus.stop)
        ports.pings.append(bus.ping)
    if "objects" in wanted:
        objects = open_object_store(settings)
        ports.objects_ = objects
        if hasattr(objects, "ping"):
            ports.pings.append(objects.ping)
    if "delivery" in wanted:
        from imfaas.shared.adapters.delivery_http import HttpDelivery

        delivery = HttpDelivery(
            ports.nodes,
            settings.delivery_url_template,
            settings.internal_token,
            settings.function_timeout_s,
        )
        ports.delivery_ = delivery
        ports.closers.append(delivery.close)


async def _relational_adapter(settings: Settings, clients: _Clients, name: str):
    if settings.relational_backend == "postgres":
        from imfaas.shared.adapters.device_registry_postgres import PostgresDeviceRegistry
        from imfaas.shared.adapters.group_directory_postgres import PostgresGroupDirectory
        from imfaas.shared.adapters.media_registry_postgres import PostgresMediaRegistry
        from imfaas.shared.adapters.push_registry_postgres import PostgresPushRegistry
        from imfaas.shared.adapters.relationship_store_postgres import (
            PostgresRelationshipStore,
        )
        from imfaas.shared.adapters.user_directory_postgres import PostgresUserDirectory

        pg_types = {
            "users": PostgresUserDirectory,
            "devices": PostgresDeviceRegistry,
            "relations": PostgresRelationshipStore,
            "media": PostgresMediaRegistry,
            "groups": PostgresGroupDirectory,
            "pushes": PostgresPushRegistry,
        }
        return pg_types[name](await clients.postgres())
    from imfaas.shared.adapters.device_registry_sqlite import SqliteDeviceRegistry
    from imfaas.shared.adapters.group_directory_sqlite import SqliteGroupDirectory
    from imfaas.shared.adapters.media_registry_sqlite import SqliteMediaRegistry
    from imfaas.shared.adapters.push_registry_sqlite import SqlitePushRegistry
    from imfaas.shared.adapters.relationship_store_sqlite import SqliteRelationshipStore
    from imfaas.shared.adapters.user_directory_sqlite import SqliteUserDirectory

    sqlite_types = {
        "users": SqliteUserDirectory,
        "devices": SqliteDeviceRegistry,
        "relations": SqliteRelationshipStore,
        "media": SqliteMediaRegistry,
        "groups": SqliteGroupDirectory,
        "pushes": SqlitePushRegistry,
    }
    return sqlite_types[name](await clients.sqlite())


async def _message_adapter(settings: Settings, clients: _Clients, name: str):
    if settings.message_backend == "scylla":
        from imfaas.shared.adapters.conversation_index_scylla import ScyllaConversationIndex
        from imfaas.shared.adapters.message_log_scylla import ScyllaMessageLog

        cql_types = {"messages": ScyllaMessageLog, "conversations": ScyllaConversationIndex}
        return cql_types[name](await clients.cassandra())
    from imfaas.shared.adapters.conversation_index_sqlite import SqliteConversationIndex
    from imfaas.shared.adapters.message_log_sqlite import SqliteMessageLog

    sqlite_types = {"messages": SqliteMessageLog, "conversations": SqliteConversationIndex}
    return sqlite_types[name](await clients.sqlite())


def open_object_store(settings: Settings) -> ObjectStore:
    """The object store named by the settings (media and backups); presigning is local."""
    if settings.object_backend == "files":
        from imfaas.shared.adapters.object_store_files import LocalFileObjectStore

        base_url = settings.public_http_url or "http://127.0.0.1:8080"
        return LocalFileObjectStore.in_data_dir(settings.data_dir, base_url)
    if settings.object_backend != "s3":
        raise SettingsError(f"object_backend={settings.object_backend!r}; known: files, s3")
    from imfaas.shared.adapters.object_store_s3 import S3ObjectStore

    return S3ObjectStore(
        settings.s3_endpoint,
        settings.s3_region,
        settings.s3_access_key,
        settings.s3_secret_key,
        settings.backend_timeout_s,
        public_endpoint=settings.s3_public_endpoint,
    )


def _route_table(settings: Settings, clients: _Clients) -> RouteTable:
    if settings.route_backend == "redis":
        from imfaas.shared.adapters.route_table_redis import RedisRouteTable

        return RedisRouteTable(clients.redis(), settings.redis_prefix)  # type: ignore[arg-type]
    from imfaas.shared.adapters.route_table_memory import MemoryRouteTable

    return MemoryRouteTable()


def _node_registry(settings: Settings, clients: _Clients) -> NodeRegistry:
    # Nodes live where routes live: both are the gateways' hot state.
    if settings.route_backend == "redis":
        from imfaas.shared.adapters.node_registry_redis import RedisNodeRegistry

        return RedisNodeRegistry(clients.redis(), settings.redis_prefix)  # type: ignore[arg-type]
    from imfaas.shared.adapters.node_registry_memory import MemoryNodeRegistry

    return MemoryNodeRegistry()


def _cache(settings: Settings, clients: _Clients) -> Cache:
    if settings.cache_backend == "redis":
        from imfaas.shared.adapters.cache_redis import RedisCache

        return RedisCache(clients.redis(), settings.redis_prefix)  # type: ignore[arg-type]
    from imfaas.shared.adapters.cache_memory import MemoryCache

    return MemoryCache()


def _bus(settings: Settings) -> EventBus:
    if settings.bus_backend == "kafka":
        from imfaas.shared.adapters.event_bus_kafka import KafkaEventBus

        return KafkaEventBus(
            settings.kafka_bootstrap,
            topic_prefix=settings.kafka_topic_prefix,
            partitions=settings.bus_partitions,
            timeout_s=settings.backend_timeout_s,
            client_id=f"imfaas-{settings.node_id}",
        )
    from imfaas.shared.adapters.event_bus_memory import MemoryEventBus

    return MemoryEventBus(partitions=settings.bus_partitions)
