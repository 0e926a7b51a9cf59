"""Fixtures for the fanout function: routes in an embedded table, a recording delivery."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from imfaas.functions.fanout.handler import FanoutFunction, create_function
from imfaas.shared.adapter_factory import Ports
from imfaas.shared.ports.route_table import Route
from imfaas.shared.settings import Settings
from imfaas.shared.testing import (
    RecordingDelivery,
    RecordingEventBus,
    port_sets,
)


@dataclass
class FanoutEnv:
    """One started fanout function and what it runs on."""

    settings: Settings
    ports: Ports
    bus: RecordingEventBus
    delivery: RecordingDelivery
    fn: FanoutFunction

    async def online(self, user: str, device: str, node: str, conn: str) -> Route:
        """Register one connected socket."""
        route = Route(user, device, node, conn, "web")
        await self.ports.routes.add(route, 60)
        return route

    def items_for(self, node: str) -> list[dict[str, Any]]:
        """Every item delivered to a node, over all its batches."""
        return [item for n, items in self.delivery.batches for item in items if n == node]

    def all_items(self) -> list[tuple[str, dict[str, Any]]]:
        """(node, item) for everything delivered."""
        return [(node, item) for node, items in self.delivery.batches for item in items]


MakeFanout = Callable[..., Awaitable[FanoutEnv]]


@pytest.fixture
async def make_fanout(tmp_path) -> AsyncIterator[MakeFanout]:
    """Factory: ``await make_fanout(**settings_overrides)`` → a started ``FanoutEnv``."""
    async with port_sets(tmp_path) as new_ports:

        async def make(**overrides: Any) -> FanoutEnv:
            env = await new_ports(**overrides)
            fn = create_function(env.settings, env.ports)
            await fn.start()
            return FanoutEnv(env.settings, env.ports, env.bus, env.delivery, fn)

        yield make


@pytest.fixture
async def env(make_fanout: MakeFanout) -> FanoutEnv:
    """A fanout function with default test settings."""
    return await make_fanout()
