"""The fanout function: ``message.stored``, ``users.notified`` and ``session.revoked`` →
delivery batches."""

from __future__ import annotations

import asyncio
import logging

from cloudevents.http import CloudEvent

from imfaas.events import catalog
from imfaas.events.codec import new_event
from imfaas.events.schema_registry import conforms, data_problems
from imfaas.functions.fanout.delivery_plan import (
    DeliveryPlan,
    plan_message,
    plan_notification,
    plan_session_close,
)
from imfaas.shared.adapter_factory import Ports
from imfaas.shared.conversation_members import conversation_members
from imfaas.shared.errors import BackendUnavailable, BadRequest, NotFound
from imfaas.shared.function_runtime import FunctionBase
from imfaas.shared.settings import Settings

SOURCE = "/imfaas/functions/fanout"
NEEDS = ("routes", "groups", "cache", "bus", "delivery")

log = logging.getLogger("imfaas.fanout")

EVENT_SCHEMAS = {
    catalog.MESSAGE_STORED: "events/message.stored.json",
    catalog.SESSION_REVOKED: "events/session.revoked.json",
    catalog.USERS_NOTIFIED: "events/users.notified.json",
}


class FanoutFunction(FunctionBase):
    """One delivery batch per gateway node that holds a member, never a broadcast."""

    name = "fanout"

    def __init__(self, ports: Ports) -> None:
        self._ports = ports
        self._members = conversation_members(ports.groups_, ports.cache_)

    async def handle(self, event: CloudEvent) -> CloudEvent | None:
        """Deliver; an unreachable node is skipped (its sockets are gone; clients will sync)."""
        data = event.get_data()
        if not isinstance(data, dict):
            raise BadRequest("event data must be an object")
        schema = EVENT_SCHEMAS.get(event["type"])
        if schema is None:
            raise BadRequest(f"fanout does not handle {event['type']}")
        if not conforms(schema, data):
            # Store and login write these; anything else is a bug upstream, not a retry case.
            raise BadRequest(f"malformed {event['type']}: {'; '.join(data_problems(schema, data))}")
        if event["type"] == catalog.MESSAGE_STORED:
            await self._fan_out_message(data)
        elif event["type"] == catalog.USERS_NOTIFIED:
            await self._notify(data)
        elif event["type"] == catalog.SESSION_REVOKED:
            await self._close_sessions(data)
        else:
            raise BadRequest(f"fanout does not handle {event['type']}")
        return None

    async def _fan_out_message(self, data: dict) -> None:
        message = data["message"]
        members = data.get("members")
        if data["duplicate"]:
            members = []  # a resend gets its ack again and reaches nobody else
        elif members is None:
            members = await self._group_members(message["conversation"])
        routes = await self._ports.routes.lookup(members)
        plan = plan_message(message, members, routes, data["reply_to"], bool(data["duplicate"]))
        await self._deliver(plan)
        if plan.offline:
            # Push candidates: the push function (a later issue) consumes these.
            await self._ports.bus.publish(
                new_event(
                    catalog.PUSH_REQUESTED,
                    SOURCE,
                    {"message": message, "users": plan.offline},
                    subject=message["conversation"],
                ),
                key=message["conversation"],
            )

    async def _group_members(self, conversation: str) -> list[str]:
        """The group's members now, from its cached snapshot (never the database per message)."""
        try:
            return await self._members.members_of(conversation)
        except NotFound:
            return []  # dissolved since the store: the sender still gets the ack

    async def _notify(self, data: dict) -> None:
        try:
            users, frame, skip = list(data["users"]), data["frame"], data.get("skip")
        except (KeyError, TypeError) as exc:
            raise BadRequest(f"malformed users.notified: {exc!r}") from exc
        routes = await self._ports.routes.lookup(users)
        await self._deliver(plan_notification(frame, users, routes, skip))

    async def _close_sessions(self, data: dict) -> None:
        user = data["user"]
        routes = (await self._ports.routes.lookup([user])).get(user, [])
        await self._deliver(
            plan_session_close(data["device"], routes, int(data["close_code"]), data["reason"])
        )

    async def _deliver(self, plan: DeliveryPlan) -> None:
        async def one(node_id: str, items: list[dict]) -> None:
            try:
                await self._ports.delivery.deliver(node_id, items)
            except BackendUnavailable as exc:
                log.warning("gateway node %s unreachable: %s", node_id, exc)

        await asyncio.gather(*(one(node, items) for node, items in plan.batches.items()))


def create_function(settings: Settings, ports: Ports) -> FanoutFunction:
    """Build the fanout function on already opened ports."""
    return FanoutFunction(ports)
