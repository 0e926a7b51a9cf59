"""Fanout on the local cluster: one delivery batch per gateway node holding a member.

Two gateway nodes; login spreads users over them (``ws_url``). Each gateway counts the
delivery batches it receives (``/healthz``), so the test sees exactly where fanout sent what.
"""

from __future__ import annotations

import asyncio
import os

import pytest

from imfaas.client import ImfaasClient

pytestmark = pytest.mark.skipif(
    "real" not in os.environ.get("IMFAAS_BACKENDS", ""),
    reason="needs two gateway nodes: runs on the local cluster (IMFAAS_BACKENDS=real)",
)


async def batches(client: ImfaasClient, ws_url: str) -> int:
    origin = ws_url.replace("ws://", "http://").removesuffix("/v1/ws")
    async with client._http.get(origin + "/healthz") as response:
        return (await response.json())["delivery_batches"]


async def test_users_spread_over_both_nodes_and_batches_go_only_where_members_are(
    new_user, connect, client
) -> None:
    users = [await new_user() for _ in range(12)]
    by_node: dict[str, list] = {}
    for user in users:
        by_node.setdefault(user[2].ws_url, []).append(user)
    assert len(by_node) == 2, "rendezvous hashing put every user on one node"
    (node_a, on_a), (node_b, on_b) = sorted(by_node.items())
    conns = {user[1]: await connect(user[2]) for user in users}

    async def settle_and_count() -> tuple[int, int]:
        await asyncio.sleep(0.5)
        return await batches(client, node_a), await batches(client, node_b)

    # Both members on node A: one batch (ack + msg.new together), none on node B.
    sender, receiver = on_a[0], on_a[1]
    before = await settle_and_count()
    await conns[sender[1]].request(
        "msg.send", to=receiver[1], client_msg_id="same-node", content={"kind": "text", "text": "a"}
    )
    await conns[receiver[1]].next_event("msg.new")
    after = await settle_and_count()
    assert (after[0] - before[0], after[1] - before[1]) == (1, 0)

    # Sender on A, receiver on B: one batch each.
    receiver = on_b[0]
    before = after
    await conns[sender[1]].request(
        "msg.send", to=receiver[1], client_msg_id="cross", content={"kind": "text", "text": "b"}
    )
    await conns[receiver[1]].next_event("msg.new")
    after = await settle_and_count()
    assert (after[0] - before[0], after[1] - before[1]) == (1, 1)
