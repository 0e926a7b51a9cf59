"""RouteTable on Redis: one hash per user, one field per socket, expiry kept per field."""

from __future__ import annotations

import json
import time

import redis.asyncio as redis

from imfaas.shared.adapters.redis_connection import redis_errors
from imfaas.shared.ports.route_table import Route

# Field TTLs (HEXPIRE) need Redis 7.4; the expiry lives in the value instead, the key itself
# expires with its newest socket, and lookups skip (and prune) fields that are past due.

# Every user's hash in one command: a group message looks up 1,000 members, and a pipeline of
# 1,000 HGETALLs costs the caller ~12 µs of Python per key to build and read, this ~1.5 µs.
# Keys of one call must share a slot under Redis Cluster; imfaas uses one Redis (hot state).
_HGETALL_EACH = (
    "local found = {} for i, key in ipairs(KEYS) do found[i] = redis.call('HGETALL', key) end"
    " return found"
)
# Users per script call: bounds how long one lookup holds the (single-threaded) server.
LOOKUP_CHUNK = 2000


def _field(route: Route) -> str:
    return f"{route.device_id}|{route.node_id}|{route.conn_id}"


class RedisRouteTable:
    """``<prefix>routes:<user>`` → {device|node|conn: {"platform", "expires"}}."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self._redis = client
        self._prefix = prefix
        # EVALSHA, loading the script again if the server lost it (restart, SCRIPT FLUSH).
        self._hgetall_each = client.register_script(_HGETALL_EACH)

    def _key(self, user_id: str) -> str:
        return f"{self._prefix}routes:{user_id}"

    def _node_key(self, node_id: str) -> str:
        # The node's index: which users it routed (their hashes hold the routes themselves).
        return f"{self._prefix}routes-of-node:{node_id}"

    async def add(self, route: Route, ttl_s: int) -> None:
        """Register a socket."""
        await self.refresh([route], ttl_s)

    async def remove(self, route: Route) -> None:
        """Forget a socket."""
        pipe = self._redis.pipeline(transaction=False)
        pipe.hdel(self._key(route.user_id), _field(route))
        pipe.srem(self._node_key(route.node_id), _member(route))
        with redis_errors():
            await pipe.execute()

    async def refresh(self, routes: list[Route], ttl_s: int) -> None:
        """Write every route with a new expiry, in one pipeline round trip."""
        if not routes:
            return
        expires = time.time() + ttl_s
        pipe = self._redis.pipeline(transaction=False)
        for route in routes:
            key = self._key(route.user_id)
            value = json.dumps({"platform": route.platform, "expires": expires})
            pipe.hset(key, _field(route), value)
            # Every writer uses the same TTL, so the newest write always sets the longest.
            pipe.expire(key, ttl_s + 1)
            pipe.sadd(self._node_key(route.node_id), _member(route))
        # A node that is gone stops refreshing: its index then expires with its routes.
        for node_id in {route.node_id for route in routes}:
            pipe.expire(self._node_key(node_id), ttl_s + 1)
        with redis_errors():
            await pipe.execute()

    async def lookup(self, user_ids: list[str]) -> dict[str, list[Route]]:
        """Live routes per user (one pipeline for all users)."""
        if not user_ids:
            return {}
        results: list[list[str]] = []
        with redis_errors():
            for start in range(0, len(user_ids), LOOKUP_CHUNK):
                chunk = user_ids[start : start + LOOKUP_CHUNK]
                results.extend(await self._hgetall_each(keys=[self._key(u) for u in chunk]))
        now = time.time()
        found: dict[str, list[Route]] = {}
        stale: list[tuple[str, str]] = []
        for user_id, flat in zip(user_ids, results, strict=True):
            for name, raw in zip(flat[::2], flat[1::2], strict=True):
                value = json.loads(raw)
                if value["expires"] <= now:
                    stale.append((user_id, name))
                    continue
                device_id, node_id, conn_id = name.split("|", 2)
                found.setdefault(user_id, []).append(
                    Route(user_id, device_id, node_id, conn_id, value["platform"])
                )
        if stale:
            prune = self._redis.pipeline(transaction=False)
            for user_id, name in stale:
                prune.hdel(self._key(user_id), name)
            with redis_errors():
                await prune.execute()
        return found

    async def routes_on_node(self, node_id: str) -> list[Route]:
        """The node's routes from its index, expired ones included."""
        with redis_errors():
            members = await self._redis.smembers(self._node_key(node_id))
        routes = []
        for member in members:
            routes.append(Route(*json.loads(member)))
        return sorted(routes, key=lambda r: (r.user_id, r.device_id, r.conn_id))


def _member(route: Route) -> str:
    # JSON, not a separator: ids may hold any printable character.
    return json.dumps(
        [route.user_id, route.device_id, route.node_id, route.conn_id, route.platform]
    )
