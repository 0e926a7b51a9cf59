"""The presence function: ``typing`` (ephemeral, straight to fanout) and presence."""

from __future__ import annotations

from typing import Any

from cloudevents.http import CloudEvent

from imfaas.events import catalog
from imfaas.events.codec import new_event
from imfaas.functions.presence.config import PresenceConfig
from imfaas.shared.adapter_factory import Ports
from imfaas.shared.conversation_id import parse_conversation
from imfaas.shared.conversation_members import require_member
from imfaas.shared.function_runtime import FrameContext, FrameRouter, FunctionBase
from imfaas.shared.settings import Settings

SOURCE = "/imfaas/functions/presence"
NEEDS = ("bus",)


class PresenceFunction(FunctionBase):
    """Serves ``typing``: members other than the typing socket get a ``typing`` event."""

    name = "presence"

    def __init__(self, config: PresenceConfig, ports: Ports) -> None:
        self._config = config
        self._ports = ports
        self._router = FrameRouter(SOURCE)
        self._router.add("typing", self.typing)

    async def handle(self, event: CloudEvent) -> CloudEvent | None:
        """Serve one forwarded frame."""
        return await self._router.dispatch(event)

    async def typing(self, ctx: FrameContext, frame: dict[str, Any]) -> dict[str, Any]:
        """Tell the conversation's other members who is typing (not the caller's devices)."""
        raw = frame.get("conversation")
        members = require_member(parse_conversation(raw), ctx.user_id)
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


def create_function(settings: Settings, ports: Ports) -> PresenceFunction:
    """Build the presence function on already opened ports."""
    return PresenceFunction(PresenceConfig.from_settings(settings), ports)
