"""Builds the adapters named in settings; unknown names fail loudly at start-up."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from imfaas.shared.ports.cache import Cache
from imfaas.shared.ports.conversation_index import ConversationIndex
from imfaas.shared.ports.delivery import Delivery
from imfaas.shared.ports.device_registry import DeviceRegistry
from imfaas.shared.ports.event_bus import EventBus, EventPublisher
from imfaas.shared.ports.message_log import MessageLog
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
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

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

    async def close(self) -> None:
        """Close every adapter opened, in reverse order."""
        while self.closers:
            await self.closers.pop()()


_DURABLE = {"users", "devices", "messages", "conversations"}


async def open_ports(settings: Settings, needs: Iterable[str] = PORT_NAMES) -> Ports:
    """Open and migrate the adapters for the ports in ``needs``, as the settings choose."""
    wanted = set(needs)
    unknown = wanted - set(PORT_NAMES)
    if unknown:
        raise SettingsError(f"unknown ports: {sorted(unknown)}")
    ports = Ports()
    if wanted & _DURABLE:
        await _open_durable(settings, wanted & _DURABLE, ports)
    if "routes" in wanted:
        ports.routes_ = _choose(
            settings.route_backend, "route_backend", {"memory": _memory_routes}
        )()
    if "cache" in wanted:
        ports.cache_ = _choose(settings.cache_backend, "cache_backend", {"memory": _memory_cache})()
    if "bus" in wanted:
        bus = _choose(settings.bus_backend, "bus_backend", {"memory": _memory_bus})(settings)
        ports.bus_ = bus
        ports.closers.append(bus.stop)
    if "delivery" in wanted:
        from imfaas.shared.adapters.delivery_http import HttpDelivery

        delivery = HttpDelivery(
            settings.delivery_url_template, settings.internal_token, settings.function_timeout_s
        )
        ports.delivery_ = delivery
        ports.closers.append(delivery.close)
    return ports


def _choose(
    name: str, setting: str, choices: dict[str, Callable[..., object]]
) -> Callable[..., object]:
    if name not in choices:
        raise SettingsError(f"{setting}={name!r}; known: {', '.join(sorted(choices))}")
    return choices[name]


async def _open_durable(settings: Settings, wanted: set[str], ports: Ports) -> None:
    _choose(settings.relational_backend, "relational_backend", {"sqlite": lambda: None})
    _choose(settings.message_backend, "message_backend", {"sqlite": lambda: None})
    from imfaas.shared.adapters.conversation_index_sqlite import SqliteConversationIndex
    from imfaas.shared.adapters.device_registry_sqlite import SqliteDeviceRegistry
    from imfaas.shared.adapters.message_log_sqlite import SqliteMessageLog
    from imfaas.shared.adapters.sqlite_database import SqliteDatabase
    from imfaas.shared.adapters.user_directory_sqlite import SqliteUserDirectory

    db = SqliteDatabase(settings.data_dir / "imfaas.sqlite3")
    await db.open()
    ports.closers.append(db.close)
    adapters = {
        "users": SqliteUserDirectory,
        "devices": SqliteDeviceRegistry,
        "messages": SqliteMessageLog,
        "conversations": SqliteConversationIndex,
    }
    for name in sorted(wanted):
        adapter = adapters[name](db)
        await adapter.migrate()
        setattr(ports, f"{name}_", adapter)


def _memory_routes() -> RouteTable:
    from imfaas.shared.adapters.route_table_memory import MemoryRouteTable

    return MemoryRouteTable()


def _memory_cache() -> Cache:
    from imfaas.shared.adapters.cache_memory import MemoryCache

    return MemoryCache()


def _memory_bus(settings: Settings) -> EventBus:
    from imfaas.shared.adapters.event_bus_memory import MemoryEventBus

    return MemoryEventBus(partitions=settings.bus_partitions)
