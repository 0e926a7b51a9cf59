"""The relation function: friend requests, friendships and blocks (protocol §4)."""

from __future__ import annotations

from typing import Any

from cloudevents.http import CloudEvent

from imfaas.events import catalog
from imfaas.events.codec import new_event
from imfaas.functions.relation.config import RelationConfig
from imfaas.functions.relation.relation_requests import read_other_user, read_request_message
from imfaas.shared.adapter_factory import Ports
from imfaas.shared.conversation_id import direct_conversation
from imfaas.shared.errors import Forbidden, NotFound
from imfaas.shared.function_runtime import FrameContext, FrameRouter, FunctionBase
from imfaas.shared.ports.relationship_store import AcceptOutcome, RequestOutcome
from imfaas.shared.settings import Settings

SOURCE = "/imfaas/functions/relation"
NEEDS = ("users", "relations", "bus")


class RelationFunction(FunctionBase):
    """Serves ``friend.*``, ``block`` and ``unblock``; tells the other side by users.notified."""

    name = "relation"

    def __init__(self, config: RelationConfig, ports: Ports) -> None:
        self._config = config
        self._ports = ports
        self._router = FrameRouter(SOURCE)
        self._router.add("friend.request", self.request)
        self._router.add("friend.accept", self.accept)
        self._router.add("friend.remove", self.remove)
        self._router.add("friend.list", self.list_relations)
        self._router.add("block", self.block)
        self._router.add("unblock", self.unblock)

    async def handle(self, event: CloudEvent) -> CloudEvent | None:
        """Serve one forwarded frame."""
        return await self._router.dispatch(event)

    async def request(self, ctx: FrameContext, frame: dict[str, Any]) -> dict[str, Any]:
        """Ask ``user`` to be friends (a request back from them accepts theirs)."""
        other = await self._other_user(ctx, frame)
        message = read_request_message(frame, self._config.friend_message_max_bytes)
        outcome = await self._ports.relations.request_friend(ctx.user_id, other, message)
        if outcome is RequestOutcome.BLOCKED:
            # The same answer whichever side blocks: the caller learns no more than "no".
            raise Forbidden("you cannot send a friend request to this user")
        if outcome is RequestOutcome.REQUESTED:
            event: dict[str, Any] = {"type": "friend.event", "kind": "request", "user": ctx.user_id}
            if message:
                event["message"] = message
            await self._notify(ctx, other, event, to=[other])
        elif outcome is RequestOutcome.ACCEPTED:
            await self._announce_friendship(ctx, other)
        # A repeated request (pending, or already friends) changes nothing and tells no one.
        return {"type": "friend.request.ok"}

    async def accept(self, ctx: FrameContext, frame: dict[str, Any]) -> dict[str, Any]:
        """Accept the pending request from ``user``; ``not_found`` when there is none."""
        other = await self._other_user(ctx, frame)
        outcome = await self._ports.relations.accept_friend(ctx.user_id, other)
        if outcome is AcceptOutcome.NO_REQUEST:
            raise NotFound("no friend request from this user")
        if outcome is AcceptOutcome.ACCEPTED:
            await self._announce_friendship(ctx, other)
        return {"type": "friend.accept.ok"}

    async def remove(self, ctx: FrameContext, frame: dict[str, Any]) -> dict[str, Any]:
        """End a friendship, or withdraw or decline a pending request. Idempotent."""
        other = await self._other_user(ctx, frame)
        await self._ports.relations.remove_friend(ctx.user_id, other)
        return {"type": "friend.remove.ok"}

    async def block(self, ctx: FrameContext, frame: dict[str, Any]) -> dict[str, Any]:
        """Block ``user`` (no event: the blocked user is not told). Idempotent."""
        other = await self._other_user(ctx, frame)
        await self._ports.relations.block(ctx.user_id, other)
        return {"type": "block.ok"}

    async def unblock(self, ctx: FrameContext, frame: dict[str, Any]) -> dict[str, Any]:
        """Lift the caller's block of ``user``. Idempotent."""
        other = await self._other_user(ctx, frame)
        await self._ports.relations.unblock(ctx.user_id, other)
        return {"type": "unblock.ok"}

    async def list_relations(self, ctx: FrameContext, frame: dict[str, Any]) -> dict[str, Any]:
        """The caller's friends, pending requests both ways and blocked users."""
        mine = await self._ports.relations.relations_of(ctx.user_id)
        return {
            "type": "friend.list.ok",
            "friends": mine.friends,
            "pending_in": mine.pending_in,
            "pending_out": mine.pending_out,
            "blocked": mine.blocked,
        }

    async def _other_user(self, ctx: FrameContext, frame: dict[str, Any]) -> str:
        other = read_other_user(frame, ctx.user_id)
        if not await self._ports.users.existing_users([other]):
            raise NotFound("no such user")
        return other

    async def _announce_friendship(self, ctx: FrameContext, other: str) -> None:
        """Both sides learn of it, each told the other's id (not the socket that accepted)."""
        await self._notify(
            ctx, other, {"type": "friend.event", "kind": "accepted", "user": ctx.user_id}, [other]
        )
        await self._notify(
            ctx, other, {"type": "friend.event", "kind": "accepted", "user": other}, [ctx.user_id]
        )

    async def _notify(
        self, ctx: FrameContext, other: str, frame: dict[str, Any], to: list[str]
    ) -> None:
        # Keyed by the pair's direct conversation: a request and its acceptance stay in order.
        key = direct_conversation(ctx.user_id, other)
        data = {"users": to, "frame": frame, "skip": {"node": ctx.node_id, "conn": ctx.conn_id}}
        await self._ports.bus.publish(
            new_event(catalog.USERS_NOTIFIED, SOURCE, data, subject=key), key=key
        )


def create_function(settings: Settings, ports: Ports) -> RelationFunction:
    """Build the relation function on already opened ports."""
    return RelationFunction(RelationConfig.from_settings(settings), ports)
