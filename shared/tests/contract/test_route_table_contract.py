"""RouteTable contract: sockets per user and device, expiry by TTL, heartbeat refresh."""

from __future__ import annotations

import asyncio

import pytest

from imfaas.shared.ports.route_table import Route

# TTLs are whole seconds in the port; the expiry tests use the shortest one.
TTL = 60


def route(user: str = "alice", device: str = "d1", node: str = "gw-1", conn: str = "c1") -> Route:
    return Route(user_id=user, device_id=device, node_id=node, conn_id=conn, platform="web")


@pytest.fixture
async def routes(open_port):
    return await open_port("routes")


async def test_added_route_is_found(routes):
    await routes.add(route(), TTL)

    assert await routes.lookup(["alice"]) == {"alice": [route()]}


async def test_users_without_routes_are_absent(routes):
    await routes.add(route(), TTL)

    assert await routes.lookup(["bob"]) == {}
    assert await routes.lookup([]) == {}
    assert await routes.lookup(["alice", "bob"]) == {"alice": [route()]}


async def test_several_sockets_of_one_device_keep_their_own_entries(routes):
    sockets = [route(conn="c1"), route(conn="c2"), route(node="gw-2", conn="c1")]
    for r in sockets:
        await routes.add(r, TTL)

    found = await routes.lookup(["alice"])

    assert sorted(found["alice"], key=repr) == sorted(sockets, key=repr)


async def test_adding_the_same_socket_twice_keeps_one_entry(routes):
    await routes.add(route(), TTL)
    await routes.add(route(), TTL)

    assert await routes.lookup(["alice"]) == {"alice": [route()]}


async def test_lookup_of_several_users(routes):
    await routes.add(route("alice", "d1"), TTL)
    await routes.add(route("alice", "d2", conn="c2"), TTL)
    await routes.add(route("bob", "d9", conn="c3"), TTL)

    found = await routes.lookup(["alice", "bob", "carol"])

    assert set(found) == {"alice", "bob"}
    assert {r.device_id for r in found["alice"]} == {"d1", "d2"}
    assert found["bob"] == [route("bob", "d9", conn="c3")]


async def test_lookup_of_a_large_group_finds_every_member_with_routes(routes, monkeypatch):
    # Redis reads in chunks of LOOKUP_CHUNK users: make chunks small so several are needed.
    from imfaas.shared.adapters import route_table_redis

    monkeypatch.setattr(route_table_redis, "LOOKUP_CHUNK", 7)
    members = [f"m{i:03d}" for i in range(50)]
    online = members[::3]
    await routes.refresh([route(user=u, conn=f"c-{u}") for u in online], TTL)
    await routes.refresh([route(user="m001", device="d2", conn="c-extra")], TTL)

    found = await routes.lookup(members)

    assert sorted(found) == sorted([*online, "m001"])
    assert found["m003"] == [route(user="m003", conn="c-m003")]
    assert found["m001"] == [route(user="m001", device="d2", conn="c-extra")]


async def test_remove_forgets_one_socket_only(routes):
    await routes.add(route(conn="c1"), TTL)
    await routes.add(route(conn="c2"), TTL)

    await routes.remove(route(conn="c1"))

    assert await routes.lookup(["alice"]) == {"alice": [route(conn="c2")]}

    await routes.remove(route(conn="c2"))

    assert await routes.lookup(["alice"]) == {}


async def test_remove_of_a_missing_route_is_a_no_op(routes):
    await routes.remove(route())
    await routes.add(route(conn="c1"), TTL)

    await routes.remove(route(conn="gone"))
    await routes.remove(route(user="bob"))

    assert await routes.lookup(["alice"]) == {"alice": [route(conn="c1")]}


async def test_routes_expire_after_their_ttl(routes):
    await routes.add(route(conn="short"), 1)
    await routes.add(route(conn="long"), TTL)

    assert len((await routes.lookup(["alice"]))["alice"]) == 2
    await asyncio.sleep(1.3)

    assert await routes.lookup(["alice"]) == {"alice": [route(conn="long")]}


async def test_a_user_whose_routes_all_expired_is_absent(routes):
    await routes.add(route(), 1)
    await asyncio.sleep(1.3)

    assert await routes.lookup(["alice"]) == {}


async def test_refresh_extends_the_ttl_of_live_sockets(routes):
    await routes.add(route(conn="kept"), 1)
    await routes.add(route(conn="dropped"), 1)
    await asyncio.sleep(0.6)

    await routes.refresh([route(conn="kept")], 1)
    await asyncio.sleep(0.7)  # 1.3 s after add, 0.7 s after refresh

    assert await routes.lookup(["alice"]) == {"alice": [route(conn="kept")]}


async def test_refresh_of_nothing_is_harmless(routes):
    await routes.add(route(), TTL)

    await routes.refresh([], TTL)

    assert await routes.lookup(["alice"]) == {"alice": [route()]}


async def test_routes_on_node_lists_what_a_node_registered_and_did_not_remove(routes):
    kept = [route("alice", "d1", "gw-1", "c1"), route("bob|x", "d:2", "gw-1", "c2")]
    for r in (*kept, route("carol", "d1", "gw-1", "c3"), route("alice", "d2", "gw-2", "c9")):
        await routes.add(r, TTL)
    await routes.remove(route("carol", "d1", "gw-1", "c3"))

    assert sorted(await routes.routes_on_node("gw-1"), key=lambda r: r.conn_id) == kept
    assert await routes.routes_on_node("gw-2") == [route("alice", "d2", "gw-2", "c9")]
    assert await routes.routes_on_node("gw-none") == []


async def test_routes_on_node_include_expired_ones(routes):
    await routes.add(route(node="gw-dead"), 1)
    await asyncio.sleep(1.1)

    assert await routes.lookup(["alice"]) == {}
    # A refresh never came: the node's index still names the socket (gone with its node).
    assert await routes.routes_on_node("gw-dead") == [route(node="gw-dead")]
