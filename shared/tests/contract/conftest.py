"""Backend parametrization shared by every port's contract suite.

Each suite asks for ``open_port`` and gets one run per backend: ``"embedded"`` always, and
``"real"`` as well when ``IMFAAS_BACKENDS=real`` (comma-separated, as CI sets it). The real
backend is opened through ``open_ports`` with the server-backed adapter names; while those
adapters do not exist, every ``real`` test FAILS with a message saying so: a CI job that asks
for real backends must never pass by skipping them.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from imfaas.shared.adapter_factory import DURABLE_PORTS, open_ports
from imfaas.shared.settings import Settings, SettingsError
from imfaas.shared.testing import drop_real_namespace, make_settings

KNOWN_BACKENDS = ("embedded", "real")
DEFAULTS = Settings()


def _backends_from_env(value: str) -> list[str]:
    asked = [name.strip() for name in value.split(",") if name.strip()]
    unknown = sorted(set(asked) - set(KNOWN_BACKENDS))
    if unknown:
        raise pytest.UsageError(
            f"IMFAAS_BACKENDS={value!r}: unknown backends {unknown}; known: {KNOWN_BACKENDS}"
        )
    return ["embedded"] + (["real"] if "real" in asked else [])


BACKENDS = _backends_from_env(os.environ.get("IMFAAS_BACKENDS", ""))

# The adapter names the real (server-backed) deployment uses, overridable per CI job.
REAL_BACKEND_SETTINGS = {
    "relational_backend": os.environ.get("IMFAAS_REAL_RELATIONAL_BACKEND", "postgres"),
    "message_backend": os.environ.get("IMFAAS_REAL_MESSAGE_BACKEND", "scylla"),
    "route_backend": os.environ.get("IMFAAS_REAL_ROUTE_BACKEND", "redis"),
    "cache_backend": os.environ.get("IMFAAS_REAL_CACHE_BACKEND", "redis"),
    "bus_backend": os.environ.get("IMFAAS_REAL_BUS_BACKEND", "kafka"),
}

_SQLITE_PORTS = set(DURABLE_PORTS)


class PortOpener:
    """Factory for one backend: ``await open_port("users")`` returns a fresh adapter.

    Durable ports opened again on the same opener share the data dir, so a test can close
    everything (``await open_port.close()``) and reopen to check what survived.
    """

    def __init__(self, backend: str, data_dir: Path) -> None:
        self.backend = backend
        self.data_dir = data_dir
        # Each test gets its own namespace on the shared servers, kept across reopenings.
        self.namespace = "t" + uuid.uuid4().hex[:12]
        self._closers: list[Callable[[], Awaitable[None]]] = []
        self._opened_real: set[str] = set()

    async def __call__(self, port: str, **options: Any) -> Any:
        """Open ``port`` (a name from ``PORT_NAMES``); ``options`` tune in-memory adapters."""
        if self.backend == "real":
            return await self._open_real(port, options)
        if port in _SQLITE_PORTS:
            ports = await open_ports(make_settings(self.data_dir), [port])
            self._closers.append(ports.close)
            return getattr(ports, port)
        if port == "routes":
            from imfaas.shared.adapters.route_table_memory import MemoryRouteTable

            return MemoryRouteTable(**options)
        if port == "cache":
            from imfaas.shared.adapters.cache_memory import MemoryCache

            return MemoryCache(**options)
        if port == "bus":
            from imfaas.shared.adapters.event_bus_memory import MemoryEventBus

            bus = MemoryEventBus(**options)
            self._closers.append(bus.stop)
            return bus
        raise AssertionError(f"no embedded adapter for port {port!r}")

    async def _open_real(self, port: str, options: dict[str, Any]) -> Any:
        settings = make_settings(
            self.data_dir,
            **REAL_BACKEND_SETTINGS,
            postgres_dsn=os.environ.get("IMFAAS_POSTGRES_DSN", DEFAULTS.postgres_dsn),
            postgres_schema=self.namespace,
            redis_url=os.environ.get("IMFAAS_REDIS_URL", DEFAULTS.redis_url),
            redis_prefix=f"{self.namespace}:",
            cassandra_keyspace=self.namespace,
            kafka_topic_prefix=f"{self.namespace}.",
        )
        self._opened_real.add(port)
        try:
            ports = await open_ports(settings, [port])
        except SettingsError as exc:
            problem = str(exc)
        else:
            self._closers.append(ports.close)
            adapter = getattr(ports, port)
            if port == "bus":
                # The suite tunes retries and partitions; the real bus takes the same knobs.
                from imfaas.shared.adapters.event_bus_kafka import KafkaEventBus

                await ports.close()
                adapter = KafkaEventBus(
                    settings.kafka_bootstrap,
                    topic_prefix=settings.kafka_topic_prefix,
                    timeout_s=settings.backend_timeout_s,
                    **options,
                )
                self._closers.append(adapter.stop)
            return adapter
        pytest.fail(
            f"IMFAAS_BACKENDS=real asks for the real-server adapter of port {port!r}, "
            f"but open_ports cannot build it ({problem}). Implement and register the adapter, "
            "or run without IMFAAS_BACKENDS=real.",
            pytrace=False,
        )

    async def close(self) -> None:
        """Close every adapter opened so far, newest first."""
        while self._closers:
            await self._closers.pop()()

    async def discard(self) -> None:
        """After the test: drop its keyspace and topics from the real servers (they would
        pile up in the brokers' heaps over a run)."""
        cql = self._opened_real & {"messages", "conversations"}
        if not cql and "bus" not in self._opened_real:
            return
        await asyncio.to_thread(
            drop_real_namespace,
            keyspace=self.namespace if cql else None,
            topic_prefix=f"{self.namespace}." if "bus" in self._opened_real else None,
        )


@pytest.fixture(params=BACKENDS)
async def open_port(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[PortOpener]:
    """A factory of adapters for the backend named by the parameter."""
    opener = PortOpener(request.param, tmp_path)
    yield opener
    await opener.close()
    await opener.discard()
