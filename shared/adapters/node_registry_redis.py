"""NodeRegistry on Redis: one key per node with a TTL, found through a set of node ids."""

from __future__ import annotations

import json

import redis.asyncio as redis

from imfaas.shared.adapters.redis_connection import redis_errors
from imfaas.shared.ports.node_registry import GatewayNode


class RedisNodeRegistry:
    """``<prefix>node:<id>`` (expiring) plus the set ``<prefix>nodes`` of ids ever seen."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self._redis = client
        self._prefix = prefix

    async def announce(self, node: GatewayNode, ttl_s: int) -> None:
        """Register or refresh a node."""
        value = json.dumps({"ws_url": node.ws_url, "delivery_url": node.delivery_url})
        pipe = self._redis.pipeline(transaction=False)
        pipe.set(f"{self._prefix}node:{node.node_id}", value, ex=ttl_s)
        pipe.sadd(f"{self._prefix}nodes", node.node_id)
        with redis_errors():
            await pipe.execute()

    async def withdraw(self, node_id: str) -> None:
        """Remove a node."""
        pipe = self._redis.pipeline(transaction=False)
        pipe.delete(f"{self._prefix}node:{node_id}")
        pipe.srem(f"{self._prefix}nodes", node_id)
        with redis_errors():
            await pipe.execute()

    async def live_nodes(self) -> list[GatewayNode]:
        """Nodes whose key has not expired; ids whose key is gone are pruned from the set."""
        with redis_errors():
            ids = sorted(await self._redis.smembers(f"{self._prefix}nodes"))
            if not ids:
                return []
            values = await self._redis.mget([f"{self._prefix}node:{i}" for i in ids])
            dead = [i for i, v in zip(ids, values, strict=True) if v is None]
            if dead:
                await self._redis.srem(f"{self._prefix}nodes", *dead)
        return [GatewayNode(i, **json.loads(v)) for i, v in zip(ids, values, strict=True) if v]
