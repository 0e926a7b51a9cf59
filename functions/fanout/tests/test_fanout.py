"""message.stored and session.revoked → delivery batches per gateway node (protocol §2, §3)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from imfaas.events import catalog
from imfaas.events.codec import new_event
from imfaas.functions.store.handler import create_function as create_store
from imfaas.shared.errors import BadRequest
from imfaas.shared.ports.route_table import Route

CONV = "d:ua:ub"
MESSAGE = {
    "conversation": CONV,
    "seq": 7,
    "msg_id": f"{CONV}#7",
    "sender": "ua",
    "sender_device": "da1",
    "client_msg_id": "cm-1",
    "ts": 1_700_000_000_000,
    "content": {"kind": "text", "text": "hello"},
}
REPLY_TO = {"node": "gw-a", "conn": "a1", "request_id": "req-5"}


def stored_event(duplicate: bool = False, reply_to: dict[str, str] | None = None):
    data: dict[str, Any] = {
        "message": MESSAGE,
        "duplicate": duplicate,
        "reply_to": reply_to or REPLY_TO,
        "members": ["ua", "ub"],
    }
    return new_event(catalog.MESSAGE_STORED, "/test", data, subject=CONV)


def revoked_event(user: str, device: str, close_code: int = 4401, reason: str = "logout"):
    data = {
        "user": user,
        "device": device,
        "session": "s1",
        "close_code": close_code,
        "reason": reason,
    }
    return new_event(catalog.SESSION_REVOKED, "/test", data)


EXPECTED_ACK = {
    "type": "msg.ack",
    "id": "req-5",
    "conversation": CONV,
    "seq": 7,
    "msg_id": f"{CONV}#7",
    "ts": 1_700_000_000_000,
    "client_msg_id": "cm-1",
}
NEW = {"type": "msg.new", "message": MESSAGE}


async def everyone_online(env) -> None:
    await env.online("ua", "da1", "gw-a", "a1")  # the sending socket
    await env.online("ua", "da1", "gw-a", "a3")  # another socket of the sending device
    await env.online("ua", "da2", "gw-b", "b2")  # the sender's other device
    await env.online("ub", "db1", "gw-a", "a4")
    await env.online("ub", "db2", "gw-c", "c5")


# -- message.stored ---------------------------------------------------------------------


async def test_one_batch_per_gateway_node(env):
    await everyone_online(env)
    assert await env.fn.handle(stored_event()) is None
    nodes = Counter(node for node, _ in env.delivery.batches)
    assert nodes == {"gw-a": 1, "gw-b": 1, "gw-c": 1}


async def test_ack_goes_to_the_sending_socket_only(env):
    await everyone_online(env)
    await env.fn.handle(stored_event())
    acks = [(node, item) for node, item in env.all_items() if item["frame"]["type"] == "msg.ack"]
    assert acks == [("gw-a", {"conn": "a1", "frame": EXPECTED_ACK})]


async def test_msg_new_reaches_every_other_socket_of_every_member(env):
    await everyone_online(env)
    await env.fn.handle(stored_event())
    news = {
        (node, item["conn"]) for node, item in env.all_items() if item["frame"]["type"] == "msg.new"
    }
    assert news == {("gw-a", "a3"), ("gw-b", "b2"), ("gw-a", "a4"), ("gw-c", "c5")}
    for _, item in env.all_items():
        if item["frame"]["type"] == "msg.new":
            assert item["frame"] == NEW
    # Exactly one frame per socket.
    assert len(env.all_items()) == 5
    assert env.bus.published == []  # everyone is online: no push


async def test_the_sending_socket_never_gets_msg_new(env):
    await everyone_online(env)
    await env.fn.handle(stored_event())
    to_sender = [item for item in env.items_for("gw-a") if item["conn"] == "a1"]
    assert [item["frame"]["type"] for item in to_sender] == ["msg.ack"]


async def test_sending_socket_on_another_node_than_its_route_still_gets_only_the_ack(env):
    # A conn id is only unique on its node: a4 on gw-a is ub's socket, and a socket named
    # "a4" on gw-z (where the message was sent from) must not suppress ub's msg.new.
    await env.online("ua", "da1", "gw-z", "a4")
    await env.online("ub", "db1", "gw-a", "a4")
    await env.fn.handle(stored_event(reply_to={"node": "gw-z", "conn": "a4", "request_id": "r"}))
    assert [item["frame"]["type"] for item in env.items_for("gw-z")] == ["msg.ack"]
    assert env.items_for("gw-a") == [{"conn": "a4", "frame": NEW}]


async def test_offline_members_are_named_in_one_push_request(env):
    await env.online("ua", "da1", "gw-a", "a1")
    await env.fn.handle(stored_event())
    pushes = env.bus.of_type(catalog.PUSH_REQUESTED)
    assert len(pushes) == 1
    assert pushes[0].get_data() == {"message": MESSAGE, "users": ["ub"]}
    assert [key for _, key in env.bus.published] == [CONV]
    # The sender still gets its ack.
    assert env.all_items() == [("gw-a", {"conn": "a1", "frame": EXPECTED_ACK})]


async def test_an_offline_sender_is_not_pushed(env):
    # Neither member has a route (the sending socket closed meanwhile).
    await env.fn.handle(stored_event())
    (push,) = env.bus.of_type(catalog.PUSH_REQUESTED)
    assert push.get_data()["users"] == ["ub"]


async def test_no_push_when_the_recipient_is_online(env):
    await env.online("ub", "db1", "gw-c", "c1")
    await env.fn.handle(stored_event())
    assert env.bus.of_type(catalog.PUSH_REQUESTED) == []


async def test_duplicate_gets_only_the_ack(env):
    await everyone_online(env)
    await env.fn.handle(stored_event(duplicate=True))
    assert env.delivery.batches == [("gw-a", [{"conn": "a1", "frame": EXPECTED_ACK}])]
    assert env.bus.published == []


async def test_duplicate_with_an_offline_recipient_sends_no_push(env):
    await env.online("ua", "da1", "gw-a", "a1")
    await env.fn.handle(stored_event(duplicate=True))
    assert env.bus.published == []
    assert env.all_items() == [("gw-a", {"conn": "a1", "frame": EXPECTED_ACK})]


async def test_a_node_that_is_down_does_not_stop_the_others(env):
    await everyone_online(env)
    env.delivery.down.add("gw-b")
    assert await env.fn.handle(stored_event()) is None
    assert {node for node, _ in env.delivery.batches} == {"gw-a", "gw-c"}
    assert env.items_for("gw-c") == [{"conn": "c5", "frame": NEW}]
    assert len(env.items_for("gw-a")) == 3


async def test_the_senders_node_down_does_not_stop_the_recipients(env):
    await everyone_online(env)
    env.delivery.down.add("gw-a")
    await env.fn.handle(stored_event())
    assert {node for node, _ in env.delivery.batches} == {"gw-b", "gw-c"}


async def test_every_node_down_raises_nothing(env):
    await everyone_online(env)
    env.delivery.down.update({"gw-a", "gw-b", "gw-c"})
    assert await env.fn.handle(stored_event()) is None
    assert env.delivery.batches == []


async def test_expired_routes_count_as_offline(env):
    await env.ports.routes.add(Route("ub", "db1", "gw-c", "c1", "web"), 0)
    await env.fn.handle(stored_event())
    assert env.items_for("gw-c") == []
    (push,) = env.bus.of_type(catalog.PUSH_REQUESTED)
    assert push.get_data()["users"] == ["ub"]


async def test_fanout_of_what_store_publishes(env):
    await env.online("ua", "da1", "gw-a", "a1")
    await env.online("ub", "db1", "gw-b", "b1")
    store = create_store(env.settings, env.ports)
    await store.start()
    submitted = {
        "conversation": CONV,
        "sender": "ua",
        "sender_device": "da1",
        "client_msg_id": "cm-9",
        "content": {"kind": "text", "text": "hi"},
        "submitted_ts": 0,
        "reply_to": {"node": "gw-a", "conn": "a1", "request_id": "req-9"},
    }
    await store.handle(new_event(catalog.MESSAGE_SUBMITTED, "/test", submitted))
    (stored,) = env.bus.of_type(catalog.MESSAGE_STORED)
    await env.fn.handle(stored)
    (ack,) = env.items_for("gw-a")
    assert ack["conn"] == "a1"
    assert ack["frame"]["type"] == "msg.ack" and ack["frame"]["id"] == "req-9"
    assert ack["frame"]["seq"] == 1 and ack["frame"]["client_msg_id"] == "cm-9"
    (new,) = env.items_for("gw-b")
    assert new["conn"] == "b1"
    assert new["frame"]["message"] == stored.get_data()["message"]


# -- session.revoked --------------------------------------------------------------------


async def test_revoked_session_closes_every_socket_of_that_device_only(env):
    await env.online("ua", "da1", "gw-a", "a1")
    await env.online("ua", "da1", "gw-b", "b1")
    await env.online("ua", "da2", "gw-a", "a2")
    await env.online("ub", "da1", "gw-a", "a9")  # same device name, another user
    assert await env.fn.handle(revoked_event("ua", "da1")) is None
    closed = {(node, item["conn"]) for node, item in env.all_items()}
    assert closed == {("gw-a", "a1"), ("gw-b", "b1")}
    for _, item in env.all_items():
        assert item["close"] == 4401
        assert item["frame"]["type"] == "error"
        assert item["frame"]["code"] == "unauthorized"
    assert Counter(node for node, _ in env.delivery.batches) == {"gw-a": 1, "gw-b": 1}
    assert env.bus.published == []


async def test_displaced_session_is_kicked_with_4409(env):
    await env.online("ua", "da1", "gw-a", "a1")
    await env.fn.handle(revoked_event("ua", "da1", close_code=4409, reason="new login"))
    ((node, item),) = env.all_items()
    assert (node, item["conn"], item["close"]) == ("gw-a", "a1", 4409)
    assert item["frame"] == {"type": "kicked", "reason": "new login"}


async def test_revoked_session_without_sockets_delivers_nothing(env):
    await env.online("ua", "da2", "gw-a", "a2")
    await env.fn.handle(revoked_event("ua", "da1"))
    assert env.delivery.batches == []


async def test_revoked_session_with_a_node_down_still_closes_the_rest(env):
    await env.online("ua", "da1", "gw-a", "a1")
    await env.online("ua", "da1", "gw-b", "b1")
    env.delivery.down.add("gw-a")
    await env.fn.handle(revoked_event("ua", "da1"))
    assert [(node, item["conn"]) for node, item in env.all_items()] == [("gw-b", "b1")]


# -- users.notified ---------------------------------------------------------------------

RECEIPT = {"type": "receipt", "conversation": CONV, "user": "ub", "seq": 7}


def notified_event(users: list[str], skip: dict[str, str] | None = None):
    data: dict[str, Any] = {"users": users, "frame": RECEIPT}
    if skip is not None:
        data["skip"] = skip
    return new_event(catalog.USERS_NOTIFIED, "/test", data)


async def test_notification_reaches_every_socket_of_the_users_but_the_skipped_one(env):
    await everyone_online(env)
    await env.fn.handle(notified_event(["ua", "ub"], skip={"node": "gw-a", "conn": "a4"}))
    got = {(node, item["conn"]) for node, item in env.all_items()}
    assert got == {("gw-a", "a1"), ("gw-a", "a3"), ("gw-b", "b2"), ("gw-c", "c5")}
    assert all(item["frame"] == RECEIPT for _, item in env.all_items())
    assert Counter(node for node, _ in env.delivery.batches) == {"gw-a": 1, "gw-b": 1, "gw-c": 1}
    assert env.bus.published == []  # never stored, never pushed


async def test_notification_of_offline_users_delivers_nothing(env):
    await env.online("ua", "da1", "gw-a", "a1")
    await env.fn.handle(notified_event(["ub"]))
    assert env.delivery.batches == []


async def test_notification_with_a_node_down_still_reaches_the_rest(env):
    await everyone_online(env)
    env.delivery.down.add("gw-a")
    await env.fn.handle(notified_event(["ub"]))
    assert [(node, item["conn"]) for node, item in env.all_items()] == [("gw-c", "c5")]


@pytest.mark.parametrize(
    "data",
    [{"frame": RECEIPT}, {"users": ["ua"]}, {"users": None, "frame": RECEIPT}],
)
async def test_malformed_notification_is_bad_request(env, data):
    await everyone_online(env)
    with pytest.raises(BadRequest):
        await env.fn.handle(new_event(catalog.USERS_NOTIFIED, "/test", data))
    assert env.delivery.batches == []


# -- other events -----------------------------------------------------------------------


async def test_event_of_another_type_raises(env):
    await everyone_online(env)
    with pytest.raises(BadRequest):
        await env.fn.handle(new_event(catalog.MESSAGE_SUBMITTED, "/test", {"x": 1}))
    assert env.delivery.batches == []


@pytest.mark.parametrize("data", [None, ["x"], "x"])
async def test_event_data_that_is_not_an_object_raises(env, data):
    with pytest.raises(BadRequest):
        await env.fn.handle(new_event(catalog.MESSAGE_STORED, "/test", data))
    assert env.delivery.batches == []
