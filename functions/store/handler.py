"""The store function: ``message.submitted`` → durable message → ``message.stored``."""

from __future__ import annotations

import time

from cloudevents.http import CloudEvent

from imfaas.events import catalog
from imfaas.events.codec import new_event
from imfaas.functions.store.config import StoreConfig
from imfaas.shared.adapter_factory import Ports
from imfaas.shared.conversation_id import parse_conversation
from imfaas.shared.conversation_members import conversation_members
from imfaas.shared.errors import BadRequest
from imfaas.shared.function_runtime import FunctionBase
from imfaas.shared.media_references import referenced_object
from imfaas.shared.message import MessageDraft
from imfaas.shared.settings import Settings

SOURCE = "/imfaas/functions/store"
NEEDS = ("messages", "conversations", "media", "groups", "cache", "bus")


def read_draft(event: CloudEvent, now_ms: int) -> tuple[MessageDraft, dict[str, str]]:
    """The draft and reply target of a ``message.submitted`` event (send validated it)."""
    data = event.get_data()
    try:
        conversation = parse_conversation(data["conversation"]).text
        fields = {k: data[k] for k in ("sender", "sender_device", "client_msg_id")}
        reply_to = {k: data["reply_to"][k] for k in ("node", "conn", "request_id")}
        content = data["content"]
    except (KeyError, TypeError) as exc:
        raise BadRequest(f"malformed message.submitted: missing {exc}") from exc
    if not all(isinstance(v, str) and v for v in (*fields.values(), *reply_to.values())):
        raise BadRequest("malformed message.submitted: ids must be non-empty strings")
    if not isinstance(content, dict):
        raise BadRequest("malformed message.submitted: content must be an object")
    draft = MessageDraft(
        conversation=conversation,
        content=content,
        ts=now_ms,
        submission_id=event["id"],
        **fields,
    )
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
        self._members = conversation_members(ports.groups_, ports.cache_)

    async def handle(self, event: CloudEvent) -> CloudEvent | None:
        """Store one submitted message; errors propagate so the bus retries."""
        if event["type"] != catalog.MESSAGE_SUBMITTED:
            raise BadRequest(f"store does not handle {event['type']}")
        draft, reply_to = read_draft(event, int(time.time() * 1000))
        # A group dissolved since the send stores nothing (NotFound: not a retry case).
        await self._members.members_of(draft.conversation)
        result = await self._ports.messages.append(draft, self._config.dedup_ttl_ms)
        message = result.message
        # A resend may name another conversation than the stored message (dedup spans all
        # of a sender's conversations): everything below follows the stored message.
        # Also on a duplicate: a crash may have come between the append and these lines.
        stored: dict[str, object] = {}
        if message.conversation.startswith("g:"):
            # One write however many members; fanout lists them from the group's snapshot,
            # so a 10,000-member list never travels in the event.
            await self._ports.conversations.record_activity(
                message.conversation, message.seq, message.ts
            )
        else:
            members = await self._members.members_of(message.conversation)
            await self._ports.conversations.record_message(
                message.conversation, members, message.seq, message.ts
            )
            stored["members"] = members
        # Before anyone hears of the message: its members may then download what it names.
        object_key = referenced_object(message.content)
        if object_key is not None:
            await self._ports.media.add_reference(object_key, message.conversation)
        await self._ports.bus.publish(
            new_event(
                catalog.MESSAGE_STORED,
                SOURCE,
                {
                    "message": message.to_wire(),
                    "duplicate": result.duplicate,
                    "reply_to": reply_to,
                    **stored,
                },
                subject=message.conversation,
            ),
            key=message.conversation,
        )
        return None


def create_function(settings: Settings, ports: Ports) -> StoreFunction:
    """Build the store function on already opened ports."""
    return StoreFunction(StoreConfig.from_settings(settings), ports)
