"""Group messages in fanout: message.stored carries no member list, so the members come from
the group's cached snapshot (never the directory per message); one batch per gateway node."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from imfaas.events import catalog
from imfaas.events.codec import new_event
from imfaas.functions.fanout.handler import create_function
from imfaas.functions.group.handler import create_function as create_group
from imfaas.shared.group_snapshots import GroupSnapshots
from imfaas.shared.ports.user_directory import UserRecord
from imfaas.shared.testing import identity, reply_frame

REPLY_TO = {"node": "gw-a", "conn": "a1", "request_id": "req-1"}


class DirectoryCalls:
    """Wraps a group directory and counts every call by method name."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._inner, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            return await method(*args, **kwargs)

        return call


def message(conversation: str, seq: int = 1, sender: str = "ua") -> dict[str, Any]:
    return {
        "conversation": conversation,
        "seq": seq,
        "msg_id": f"{conversation}#{seq}",
        "sender": sender,
        "sender_device": "da1",
        "client_msg_id": f"cm-{seq}",
        "ts": 1_700_000_000_000 + seq,
        "content": {"kind": "text", "text": f"m{seq}"},
    }


def group_stored(
    conversation: str,
    seq: int = 1,
    duplicate: bool = False,
    reply_to: dict | None = None,
    sender: str = "ua",
):
    """message.stored as the store writes it for a group: no ``members``."""
    data = {
        "message": message(conversation, seq, sender),
        "duplicate": duplicate,
        "reply_to": reply_to or REPLY_TO,
    }
    return new_event(catalog.MESSAGE_STORED, "/test", data, subject=conversation)


def ack(conversation: str, seq: int = 1) -> dict[str, Any]:
    return {
        "type": "msg.ack",
        "id": REPLY_TO["request_id"],
        "conversation": conversation,
        "seq": seq,
        "msg_id": f"{conversation}#{seq}",
        "ts": 1_700_000_000_000 + seq,
        "client_msg_id": f"cm-{seq}",
    }


async def directory_group(env, group_id: str, owner: str, members: list[str]) -> str:
    """A group written straight to the directory, its snapshot retired as the group
    function does after a change; its conversation id."""
    await env.ports.groups.create_group(group_id, "team", owner, members, 0)
    await GroupSnapshots(env.ports.groups, env.ports.cache).changed(group_id)
    return f"g:{group_id}"


async def group_request(env, group_fn, user: str, frame: dict[str, Any]) -> dict[str, Any]:
    """One request to the group function (sharing the fanout's ports); its events dropped."""
    reply = await reply_frame(group_fn.handle, {"id": "g", **frame}, identity(user))
    assert reply is not None and reply["type"].endswith(".ok"), reply
    env.bus.published.clear()
    return reply


def news_by_conn(env) -> set[tuple[str, str]]:
    return {
        (node, item["conn"]) for node, item in env.all_items() if item["frame"]["type"] == "msg.new"
    }


# -- members from the snapshot ----------------------------------------------------------


async def test_a_group_message_reaches_every_member_socket_but_the_sender(env):
    conv = await directory_group(env, "g1", "ua", ["ub", "uc", "ud"])
    await env.online("ua", "da1", "gw-a", "a1")  # the sending socket
    await env.online("ua", "da2", "gw-b", "b1")  # the sender's other device
    await env.online("ub", "db1", "gw-a", "a2")
    await env.online("uc", "dc1", "gw-c", "c1")
    await env.online("uc", "dc2", "gw-b", "b2")
    await env.online("ux", "dx1", "gw-c", "c9")  # not a member

    assert await env.fn.handle(group_stored(conv)) is None

    assert Counter(node for node, _ in env.delivery.batches) == {"gw-a": 1, "gw-b": 1, "gw-c": 1}
    assert env.items_for("gw-a")[0] == {"conn": "a1", "frame": ack(conv)}
    new = {"type": "msg.new", "message": message(conv)}
    assert all(item["frame"] in (new, ack(conv)) for _, item in env.all_items())
    assert news_by_conn(env) == {("gw-b", "b1"), ("gw-a", "a2"), ("gw-c", "c1"), ("gw-b", "b2")}
    assert len(env.all_items()) == 5
    assert len(env.bus.published) == 1
    [(push, key)] = env.bus.data_and_keys(catalog.PUSH_REQUESTED)
    assert key == conv
    assert push == {"message": message(conv), "users": ["ud"]}  # offline, the sender not


async def test_a_dissolved_group_gets_only_the_ack_to_the_sender(env):
    conv = await directory_group(env, "g1", "ua", ["ub"])
    await env.online("ua", "da1", "gw-a", "a1")
    await env.online("ub", "db1", "gw-b", "b1")
    await env.ports.groups.dissolve("g1")
    await GroupSnapshots(env.ports.groups, env.ports.cache).changed("g1")

    assert await env.fn.handle(group_stored(conv)) is None

    assert env.delivery.batches == [("gw-a", [{"conn": "a1", "frame": ack(conv)}])]
    assert env.bus.published == []  # nobody to push


async def test_an_unknown_group_gets_only_the_ack(env):
    await env.online("ua", "da1", "gw-a", "a1")
    await env.fn.handle(group_stored("g:nosuch"))
    assert env.delivery.batches == [("gw-a", [{"conn": "a1", "frame": ack("g:nosuch")}])]
    assert env.bus.published == []


async def test_a_duplicate_gets_only_the_ack_without_reading_the_members(env):
    conv = await directory_group(env, "g1", "ua", ["ub", "uc"])
    await env.online("ua", "da1", "gw-a", "a1")
    await env.online("ub", "db1", "gw-b", "b1")
    directory = DirectoryCalls(env.ports.groups)
    env.ports.groups_ = directory
    fn = create_function(env.settings, env.ports)

    await fn.handle(group_stored(conv, duplicate=True))

    assert env.delivery.batches == [("gw-a", [{"conn": "a1", "frame": ack(conv)}])]
    assert env.bus.published == []
    assert directory.calls == {}


async def test_membership_changes_by_the_group_function_reach_the_next_message(env):
    for user in ("ua", "ub", "uc", "ud"):
        await env.ports.users.create_user(UserRecord(user, user, "x", 0))
    group_fn = create_group(env.settings, env.ports)
    created = await group_request(
        env, group_fn, "ua", {"type": "group.create", "name": "t", "members": ["ub", "uc"]}
    )
    conv, group_id = created["conversation"], created["group_id"]
    await env.online("ua", "da1", "gw-a", "a1")
    await env.online("ub", "db1", "gw-b", "b1")
    await env.online("uc", "dc1", "gw-c", "c1")
    await env.online("ud", "dd1", "gw-d", "d1")
    await env.fn.handle(group_stored(conv, 1))
    assert news_by_conn(env) == {("gw-b", "b1"), ("gw-c", "c1")}

    await group_request(
        env, group_fn, "ua", {"type": "group.kick", "group_id": group_id, "user": "ub"}
    )
    await group_request(
        env, group_fn, "ua", {"type": "group.invite", "group_id": group_id, "users": ["ud"]}
    )
    env.delivery.batches.clear()
    await env.fn.handle(group_stored(conv, 2))

    assert news_by_conn(env) == {("gw-c", "c1"), ("gw-d", "d1")}
    assert env.bus.published == []

    await group_request(env, group_fn, "ua", {"type": "group.dissolve", "group_id": group_id})
    env.delivery.batches.clear()
    await env.fn.handle(group_stored(conv, 3))
    assert env.delivery.batches == [("gw-a", [{"conn": "a1", "frame": ack(conv, 3)}])]


# -- a large group ----------------------------------------------------------------------

NODES = ("gw-0", "gw-1", "gw-2")


@pytest.fixture
async def big_group(env) -> tuple[str, list[str]]:
    """2,000 members; three of every four online, spread over three gateway nodes (the
    sender u0000 on gw-0); every fourth offline. The conversation and the member ids."""
    users = [f"u{i:04}" for i in range(2000)]
    conv = await directory_group(env, "big", users[0], users[1:])
    for i, user in enumerate(users):
        if i % 4 != 3:
            await env.online(user, f"d{i}", NODES[i % 4], f"c{i}")
    return conv, users


async def test_a_2000_member_group_is_one_batch_per_node_and_reads_the_directory_once(
    env, big_group
):
    conv, users = big_group
    directory = DirectoryCalls(env.ports.groups)
    env.ports.groups_ = directory
    fn = create_function(env.settings, env.ports)
    socket = {"node": "gw-0", "conn": "c0", "request_id": "req-1"}  # u0000 sends
    offline = [user for i, user in enumerate(users) if i % 4 == 3]

    await fn.handle(group_stored(conv, 1, reply_to=socket, sender="u0000"))

    # The first message loaded the snapshot: a read or two, not one per member.
    assert 0 < sum(directory.calls.values()) < 5
    assert Counter(node for node, _ in env.delivery.batches) == {node: 1 for node in NODES}
    batches = dict(env.delivery.batches)
    assert batches["gw-0"][0] == {"conn": "c0", "frame": ack(conv)}
    assert batches["gw-0"][1]["frame"] == {"type": "msg.new", "message": message(conv, 1, "u0000")}
    for n, node in enumerate(NODES):
        expected = {f"c{i}" for i in range(n, 2000, 4)} - {"c0"}
        news = [item for item in batches[node] if item["frame"]["type"] == "msg.new"]
        assert {item["conn"] for item in news} == expected
        assert len(news) == len(expected)  # one frame per socket
    assert sum(len(items) for items in batches.values()) == 1500  # 1,499 msg.new and the ack
    [(push, key)] = env.bus.data_and_keys(catalog.PUSH_REQUESTED)
    assert key == conv
    assert sorted(push["users"]) == offline and len(offline) == 500

    directory.calls.clear()
    for seq in range(2, 6):
        env.delivery.batches.clear()
        await fn.handle(group_stored(conv, seq, reply_to=socket, sender="u0000"))
        assert Counter(node for node, _ in env.delivery.batches) == {node: 1 for node in NODES}
        assert sum(len(items) for _, items in env.delivery.batches) == 1500

    assert directory.calls == {}  # no directory read after the first message


async def test_a_2000_member_group_loaded_by_another_function_costs_no_read_here(env, big_group):
    conv, _ = big_group
    # Another process (send, store) loaded the snapshot into the shared cache first.
    assert await GroupSnapshots(env.ports.groups, env.ports.cache).get("big") is not None
    directory = DirectoryCalls(env.ports.groups)
    env.ports.groups_ = directory
    fn = create_function(env.settings, env.ports)

    await fn.handle(
        group_stored(conv, 1, reply_to={"node": "gw-0", "conn": "c0", "request_id": "r"})
    )

    assert directory.calls == {}
    assert len({node for node, _ in env.delivery.batches}) == 3
