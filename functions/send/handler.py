"""The send function: ``msg.send`` → ``message.submitted`` (the ack comes later, from fanout)."""

from __future__ import annotations

import time
from typing import Any

from cloudevents.http import CloudEvent

from imfaas.events import catalog
from imfaas.events.codec import new_event
from imfaas.functions.send.config import SendConfig
from imfaas.functions.send.submission import read_submission
from imfaas.shared.adapter_factory import Ports
from imfaas.shared.conversation_members import conversation_members
from imfaas.shared.direct_message_policy import require_direct_allowed
from imfaas.shared.errors import NotFound
from imfaas.shared.function_runtime import FrameContext, FrameRouter, FunctionBase
from imfaas.shared.media_references import require_own_upload
from imfaas.shared.settings import Settings

SOURCE = "/imfaas/functions/send"
NEEDS = ("users", "relations", "media", "groups", "cache", "bus")


class SendFunction(FunctionBase):
    """Validates, authorizes and publishes; never answers ``msg.send`` itself on success."""

    name = "send"

    def __init__(self, config: SendConfig, ports: Ports) -> None:
        self._config = config
        self._ports = ports
        self._members = conversation_members(ports.groups_, ports.cache_)
        self._router = FrameRouter(SOURCE)
        self._router.add("msg.send", self.send_message)

    async def handle(self, event: CloudEvent) -> CloudEvent | None:
        """Serve one forwarded frame."""
        return await self._router.dispatch(event)

    async def send_message(self, ctx: FrameContext, frame: dict[str, Any]) -> dict[str, Any] | None:
        """Publish ``message.submitted`` keyed by conversation; fanout sends the ``msg.ack``."""
        submission = read_submission(frame, ctx.user_id, self._config)
        now_ms = int(time.time() * 1000)
        # Groups: membership and mutes from the group's cached snapshot, on every send.
        members = await self._members.require_poster(submission.conversation, ctx.user_id, now_ms)
        if submission.conversation.startswith("d:"):
            others = [m for m in members if m != ctx.user_id]
            if not await self._ports.users.existing_users(others):
                raise NotFound("unknown recipient")
            # Blocks (either way) and the policy: refused before anything is stored.
            await require_direct_allowed(
                self._ports.relations, ctx.user_id, others[0], self._config.direct_message_policy
            )
        await require_own_upload(self._ports.media, submission.content, ctx.user_id)
        data = {
            "conversation": submission.conversation,
            "sender": ctx.user_id,
            "sender_device": ctx.device_id,
            "client_msg_id": submission.client_msg_id,
            "content": submission.content,
            "submitted_ts": now_ms,
            "reply_to": {"node": ctx.node_id, "conn": ctx.conn_id, "request_id": ctx.request_id},
        }
        await self._ports.bus.publish(
            new_event(catalog.MESSAGE_SUBMITTED, SOURCE, data, subject=submission.conversation),
            key=submission.conversation,
        )
        return None


def create_function(settings: Settings, ports: Ports) -> SendFunction:
    """Build the send function on already opened ports."""
    return SendFunction(SendConfig.from_settings(settings), ports)
