"""presence.subscribe and online/offline from the gateway's socket.presence events."""

from __future__ import annotations

import pytest

from imfaas.events import catalog
from imfaas.events.codec import new_event
from imfaas.shared.ports.route_table import Route

B1 = Route("ub", "db1", "gw-1", "b1", "web")
B2 = Route("ub", "db2", "gw-2", "b2", "ios")
A1 = Route("ua", "da1", "gw-1", "a1", "web")


async def friends(env, a: str, b: str) -> None:
    await env.ports.relations.request_friend(a, b, "")
    await env.ports.relations.accept_friend(b, a)


async def subscribed(env, watcher: Route, users: list[str]) -> dict:
    """``watcher``'s socket (routed) subscribes to ``users``; the reply."""
    await env.ports.routes.add(watcher, 60)
    frame = {"type": "presence.subscribe", "users": users}
    return await env.ask(watcher.user_id, frame, conn=watcher.conn_id, node=watcher.node_id)


async def test_subscribe_reports_each_users_status(env) -> None:
    await friends(env, "ua", "ub")
    await friends(env, "ua", "uc")
    await env.socket(B1, up=True)

    reply = await subscribed(env, A1, ["ub", "uc", "ub"])

    assert reply == {
        "type": "presence.subscribe.ok",
        "id": "q1",
        "presence": {"ub": "online", "uc": "offline"},
    }


async def test_watchers_get_online_once_and_offline_after_the_last_socket(env) -> None:
    await friends(env, "ua", "ub")
    await subscribed(env, A1, ["ub"])

    await env.socket(B1, up=True, ts=10)
    await env.socket(B2, up=True, ts=20)  # already online: nothing new
    await env.socket(B1, up=False, ts=30)  # B2 still there
    await env.socket(B2, up=False, ts=40)

    assert env.delivered() == [
        ("gw-1", "a1", {"type": "presence", "user": "ub", "status": "online", "ts": 10}),
        (
            "gw-1",
            "a1",
            {"type": "presence", "user": "ub", "status": "offline", "ts": 40, "last_seen": 40},
        ),
    ]


async def test_a_subscription_ends_with_its_socket(env) -> None:
    await friends(env, "ua", "ub")
    await subscribed(env, A1, ["ub"])
    await env.ports.routes.remove(A1)

    await env.socket(B1, up=True)

    assert env.delivered() == []


async def test_an_unreachable_watcher_node_is_skipped(env) -> None:
    await friends(env, "ua", "ub")
    await friends(env, "uc", "ub")
    await subscribed(env, A1, ["ub"])
    await subscribed(env, Route("uc", "dc", "gw-3", "c1", "web"), ["ub"])
    env.delivery.down.add("gw-1")

    await env.socket(B1, up=True)

    assert [(node, conn) for node, conn, _ in env.delivered()] == [("gw-3", "c1")]


async def test_non_friends_are_refused_and_nothing_is_subscribed(env) -> None:
    await friends(env, "ua", "ub")

    reply = await subscribed(env, A1, ["ub", "uc"])

    assert reply["type"] == "error" and reply["code"] == "forbidden"
    await env.socket(B1, up=True)
    assert env.delivered() == []


async def test_anyone_may_subscribe_when_the_setting_allows(make_presence) -> None:
    env = await make_presence(presence_anyone=True)

    reply = await subscribed(env, A1, ["uc"])

    assert reply["presence"] == {"uc": "offline"}


async def test_subscribing_to_oneself_needs_no_friendship(env) -> None:
    reply = await subscribed(env, A1, ["ua"])
    assert reply["presence"] == {"ua": "online"}


@pytest.mark.parametrize(
    ("users", "code"),
    [
        ("ub", "bad_request"),
        ([5], "bad_request"),
        (["a:b"], "bad_request"),
        ([f"u{i}" for i in range(101)], "too_large"),
        (["nobody"], "not_found"),
    ],
)
async def test_bad_subscribes_are_refused_and_store_nothing(env, users, code) -> None:
    await friends(env, "ua", "ub")
    reply = await subscribed(env, A1, users)
    assert reply["type"] == "error" and reply["code"] == code
    await env.socket(B1, up=True)
    assert env.delivered() == []


async def test_malformed_socket_events_are_refused(env) -> None:
    with pytest.raises(Exception, match="malformed"):
        await env.fn.handle(new_event(catalog.SOCKET_PRESENCE, "/test", {"user": "ub"}))
