"""The store function: ``message.submitted`` → durable message → ``message.stored``."""

from __future__ import annotations

import time
from typing import Any

from cloudevents.http import CloudEvent

from imfaas.events import catalog
from imfaas.events.codec import new_event
from imfaas.functions.store.config import StoreConfig
from imfaas.shared.adapter_factory import Ports
from imfaas.shared.conversation_members import members_of
from imfaas.shared.errors import BadRequest
from imfaas.shared.function_runtime import FunctionBase
from imfaas.shared.message import MessageDraft
from imfaas.shared.settings import Settings

SOURCE = "/imfaas/functions/store"
NEEDS = ("messages", "conversations", "bus")


def read_draft(data: Any, now_ms: int) -> tuple[MessageDraft, dict[str, str]]:
    """The draft and reply target of a ``message.submitted`` event (send validated it)."""
    try:
        draft = MessageDraft(
            conversation=data["conversation"],
            sender=data["sender"],
            sender_device=data["sender_device"],
            client_msg_id=data["client_msg_id"],
            content=data["content"],
            ts=now_ms,
        )
        reply_to = {k: str(data["reply_to"][k]) for k in ("node", "conn", "request_id")}
    except (KeyError, TypeError) as exc:
        raise BadRequest(f"malformed message.submitted: {exc}") from exc
    return draft, reply_to


class StoreFunction(FunctionBase):
    """Run by exactly one consumer per conversation at a time (the bus's partition per key).

    A crash after the write but before the publish is safe: the bus redelivers the event,
    the dedup returns the stored message, and ``message.stored`` is published then.
    """

    name = "store"

    def __init__(self, config: StoreConfig, ports: Ports) -> None:
        self._config = config
        self._ports = ports

    async def handle(self, event: CloudEvent) -> CloudEvent | None:
        """Store one submitted message; errors propagate so the bus retries."""
        if event["type"] != catalog.MESSAGE_SUBMITTED:
            raise BadRequest(f"store does not handle {event['type']}")
        draft, reply_to = read_draft(event.get_data(), int(time.time() * 1000))
        members = members_of(draft.conversation)
        result = await self._ports.messages.append(draft, self._config.dedup_ttl_ms)
        message = result.message
        # Also on a duplicate: a crash may have come between the append and this line.
        await self._ports.conversations.record_message(
            message.conversation, members, message.seq, message.ts
        )
        await self._ports.bus.publish(
            new_event(
                catalog.MESSAGE_STORED,
                SOURCE,
                {
                    "message": message.to_wire(),
                    "duplicate": result.duplicate,
                    "reply_to": reply_to,
                    "members": members,
                },
                subject=message.conversation,
            ),
            key=message.conversation,
        )
        return None


def create_function(settings: Settings, ports: Ports) -> StoreFunction:
    """Build the store function on already opened ports."""
    return StoreFunction(StoreConfig.from_settings(settings), ports)
