"""The presence function: ``typing`` (ephemeral, straight to fanout) and presence.

Presence: the gateway invokes this function with ``socket.presence`` when a socket is
routed (after ``auth.ok``) and when its route is removed. The route table decides: a user
with no route left after a removal is offline; the first route after that is online. A
cache mark remembers "online" so further devices do not announce it again. Subscribers
are sockets (see ``watchers``): each change goes to the live subscribing sockets through
the delivery port, one batch per gateway node.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from cloudevents.http import CloudEvent

from imfaas.events import catalog
from imfaas.events.codec import new_event
from imfaas.events.schema_registry import conforms, data_problems
from imfaas.functions.presence.config import PresenceConfig
from imfaas.functions.presence.presence_requests import presence_event, read_watched_users
from imfaas.functions.presence.watchers import Watcher, add_watcher, watchers_of
from imfaas.shared.adapter_factory import Ports
from imfaas.shared.conversation_id import ConversationId, parse_conversation
from imfaas.shared.conversation_members import conversation_members
from imfaas.shared.errors import BackendUnavailable, BadRequest, Forbidden, NotFound
from imfaas.shared.function_runtime import FrameContext, FrameRouter, FunctionBase
from imfaas.shared.settings import Settings

log = logging.getLogger(__name__)

SOURCE = "/imfaas/functions/presence"
NEEDS = ("users", "relations", "groups", "cache", "routes", "bus", "delivery")
SOCKET_SCHEMA = "events/socket.presence.json"
# How long "online" is remembered without a change (the gateway re-announces on reconnect).
ONLINE_MARK_TTL_S = 7 * 86_400.0


class PresenceFunction(FunctionBase):
    """Serves ``typing``: members other than the typing socket get a ``typing`` event."""

    name = "presence"

    def __init__(self, config: PresenceConfig, ports: Ports) -> None:
        self._config = config
        self._ports = ports
        self._membership = conversation_members(ports.groups_, ports.cache_)
        self._router = FrameRouter(SOURCE)
        self._router.add("typing", self.typing)
        self._router.add("presence.subscribe", self.subscribe)

    async def handle(self, event: CloudEvent) -> CloudEvent | None:
        """Serve one forwarded frame, or a socket going up or down."""
        if event["type"] == catalog.SOCKET_PRESENCE:
            await self.socket_changed(event.get_data())
            return None
        return await self._router.dispatch(event)

    async def typing(self, ctx: FrameContext, frame: dict[str, Any]) -> dict[str, Any]:
        """Tell the conversation's other members who is typing (not the caller's devices)."""
        raw = frame.get("conversation")
        members = await self._members(parse_conversation(raw), ctx.user_id)
        others = sorted(set(members) - {ctx.user_id})
        event = {"type": "typing", "conversation": raw, "user": ctx.user_id}
        data = {
            "users": others,
            "frame": event,
            "skip": {"node": ctx.node_id, "conn": ctx.conn_id},
        }
        # Never stored: keyed by the conversation so typing stays in order with its messages.
        await self._ports.bus.publish(
            new_event(catalog.USERS_NOTIFIED, SOURCE, data, subject=raw), key=raw
        )
        return {"type": "typing.ok"}

    async def _members(self, conversation: ConversationId, user_id: str) -> list[str]:
        """The members, if ``user_id`` is one; a group outsider gets not_found (as from group)."""
        try:
            return await self._membership.require_member(conversation, user_id)
        except Forbidden:
            if conversation.kind == "d":
                raise
            raise NotFound("no such group") from None

    async def subscribe(self, ctx: FrameContext, frame: dict[str, Any]) -> dict[str, Any]:
        """Each user's status now; their changes later, for as long as this socket lives."""
        users = read_watched_users(frame, self._config.subscribe_max)
        others = [user for user in users if user != ctx.user_id]
        existing = await self._ports.users.existing_users(others) if others else set()
        if missing := [user for user in others if user not in existing]:
            raise NotFound(f"no such user: {missing[0]}")
        if not self._config.anyone:
            # The whole request is refused: nothing is subscribed when one user is not allowed.
            my_groups: set[str] | None = None
            for user in others:
                if await self._ports.relations.are_friends(ctx.user_id, user):
                    continue
                if my_groups is None:
                    my_groups = set(await self._ports.groups.groups_of(ctx.user_id))
                if my_groups.isdisjoint(await self._ports.groups.groups_of(user)):
                    raise Forbidden(f"neither a friend nor in a group with {user}")
        watcher = Watcher(ctx.user_id, ctx.node_id, ctx.conn_id)
        for user in users:
            await add_watcher(self._ports.cache, user, watcher, self._config.subscription_ttl_s)
        routes = await self._ports.routes.lookup(users) if users else {}
        status = {user: "online" if routes.get(user) else "offline" for user in users}
        return {"type": "presence.subscribe.ok", "presence": status}

    async def socket_changed(self, data: Any) -> None:
        """Announce online on a user's first route, offline when their last one is gone."""
        if not conforms(SOCKET_SCHEMA, data):
            raise BadRequest(
                f"malformed socket.presence: {'; '.join(data_problems(SOCKET_SCHEMA, data))}"
            )
        user = data["user"]
        mark = f"presence:online:{user}"
        # The route table is read after the gateway changed it, so it is the truth now.
        online = bool((await self._ports.routes.lookup([user])).get(user))
        was_online = await self._ports.cache.get(mark) is not None
        if online and not was_online:
            await self._ports.cache.set(mark, "1", ONLINE_MARK_TTL_S)
            await self._tell_watchers(user, presence_event(user, True, int(data["ts"])))
        elif not online and data["state"] == "down":
            await self._ports.cache.delete(mark)
            await self._tell_watchers(user, presence_event(user, False, int(data["ts"])))

    async def _tell_watchers(self, user: str, frame: dict[str, Any]) -> None:
        watchers = await watchers_of(self._ports.cache, user)
        if not watchers:
            return
        routes = await self._ports.routes.lookup(sorted({w.user for w in watchers}))
        live = {(r.node_id, r.conn_id) for rs in routes.values() for r in rs}
        batches: dict[str, list[dict[str, Any]]] = {}
        for watcher in watchers:
            if (watcher.node, watcher.conn) in live:
                batches.setdefault(watcher.node, []).append({"conn": watcher.conn, "frame": frame})

        async def one(node_id: str, items: list[dict[str, Any]]) -> None:
            try:
                await self._ports.delivery.deliver(node_id, items)
            except BackendUnavailable as exc:
                log.warning("gateway node %s unreachable: %s", node_id, exc)

        await asyncio.gather(*(one(node, items) for node, items in batches.items()))


def create_function(settings: Settings, ports: Ports) -> PresenceFunction:
    """Build the presence function on already opened ports."""
    return PresenceFunction(PresenceConfig.from_settings(settings), ports)
