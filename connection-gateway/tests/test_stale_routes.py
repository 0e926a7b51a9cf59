"""Routes of sockets that died with their node: cleared at restart, or by one live node once
the dead one has been missing for two rounds."""

from __future__ import annotations

import pytest

from imfaas.gateway.stale_routes import MISSING_ROUNDS, StaleRouteSweeper, nodes_to_sweep
from imfaas.shared.adapters.node_registry_memory import MemoryNodeRegistry
from imfaas.shared.adapters.route_table_memory import MemoryRouteTable
from imfaas.shared.errors import BackendUnavailable
from imfaas.shared.ports.node_registry import GatewayNode
from imfaas.shared.ports.route_table import Route


def route(user: str, node: str, conn: str = "c1") -> Route:
    return Route(user, "d-" + user, node, conn, "web")


def gw(node_id: str) -> GatewayNode:
    return GatewayNode(node_id, f"ws://{node_id}/v1/ws", f"http://{node_id}/deliver")


class Env:
    def __init__(self, me: str) -> None:
        self.routes = MemoryRouteTable()
        self.nodes = MemoryNodeRegistry()
        self.down: list[Route] = []
        self.sweeper = StaleRouteSweeper(me, self.routes, self.nodes, self.down.append)


@pytest.mark.parametrize(
    ("me", "live", "missing", "known", "due", "counts"),
    [
        # First round without gw-3: counted, not yet swept.
        ("gw-1", {"gw-1", "gw-2"}, {}, {"gw-1", "gw-2", "gw-3"}, [], {"gw-3": 1}),
        # Second round: swept by the lowest live id.
        ("gw-1", {"gw-1", "gw-2"}, {"gw-3": 1}, {"gw-1", "gw-2", "gw-3"}, ["gw-3"], {"gw-3": 2}),
        # ... and not by anyone else.
        ("gw-2", {"gw-1", "gw-2"}, {"gw-3": 1}, {"gw-1", "gw-2", "gw-3"}, [], {"gw-3": 2}),
        # Back before the second round: forgotten.
        ("gw-1", {"gw-1", "gw-2", "gw-3"}, {"gw-3": 1}, {"gw-1", "gw-2", "gw-3"}, [], {}),
        # This node's own announcement lapsed: it never sweeps itself.
        ("gw-1", {"gw-2"}, {"gw-1": 5}, {"gw-1", "gw-2"}, [], {}),
        # Swept once: past the second round the count goes on but nothing is due again.
        ("gw-1", {"gw-1"}, {"gw-3": 2}, {"gw-1", "gw-3"}, [], {"gw-3": 3}),
    ],
)
def test_nodes_to_sweep(me, live, missing, known, due, counts):
    assert nodes_to_sweep(me, live, missing, known) == (due, counts)


async def test_a_restarted_node_clears_its_own_routes_from_before():
    env = Env("gw-1")
    mine = [route("alice", "gw-1"), route("bob", "gw-1", "c2")]
    for r in (*mine, route("carol", "gw-2")):
        await env.routes.add(r, 60)

    assert await env.sweeper.clear_own() == 2

    assert sorted(env.down, key=lambda r: r.user_id) == mine
    assert await env.routes.lookup(["alice", "bob", "carol"]) == {"carol": [route("carol", "gw-2")]}


async def test_a_node_missing_for_two_rounds_is_swept_once_by_the_lowest_live_node():
    env = Env("gw-1")
    await env.routes.add(route("alice", "gw-3"), 60)
    await env.routes.add(route("bob", "gw-2"), 60)
    for node in ("gw-1", "gw-2", "gw-3"):
        await env.nodes.announce(gw(node), 60)
    assert await env.sweeper.watch_once() == []

    await env.nodes.withdraw("gw-3")
    assert await env.sweeper.watch_once() == []  # one round missing: maybe a blip
    assert env.down == []
    assert await env.sweeper.watch_once() == ["gw-3"]

    assert env.down == [route("alice", "gw-3")]
    assert await env.routes.lookup(["alice", "bob"]) == {"bob": [route("bob", "gw-2")]}
    for _ in range(MISSING_ROUNDS + 1):
        assert await env.sweeper.watch_once() == []
    assert len(env.down) == 1


async def test_a_node_back_within_a_round_keeps_its_routes():
    env = Env("gw-1")
    await env.routes.add(route("alice", "gw-3"), 60)
    for node in ("gw-1", "gw-3"):
        await env.nodes.announce(gw(node), 60)
    await env.sweeper.watch_once()

    await env.nodes.withdraw("gw-3")
    await env.sweeper.watch_once()
    await env.nodes.announce(gw("gw-3"), 60)
    await env.sweeper.watch_once()
    await env.sweeper.watch_once()

    assert env.down == []
    assert await env.routes.lookup(["alice"]) == {"alice": [route("alice", "gw-3")]}


class DownRegistry(MemoryNodeRegistry):
    async def live_nodes(self):
        raise BackendUnavailable("redis down")


async def test_an_unavailable_registry_sweeps_nothing():
    env = Env("gw-1")
    env.sweeper = StaleRouteSweeper("gw-1", env.routes, DownRegistry(), env.down.append)
    await env.routes.add(route("alice", "gw-3"), 60)

    assert await env.sweeper.watch_once() == []
    assert env.down == []
