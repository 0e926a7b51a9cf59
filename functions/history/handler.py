"""The history function: reads of the message log, membership checked on every read."""

from __future__ import annotations

from typing import Any

from cloudevents.http import CloudEvent

from imfaas.functions.history.config import HistoryConfig
from imfaas.functions.history.read_requests import read_before_seq, read_cursors, read_limit
from imfaas.shared.adapter_factory import Ports
from imfaas.shared.conversation_id import parse_conversation
from imfaas.shared.conversation_members import require_member
from imfaas.shared.errors import BadRequest
from imfaas.shared.function_runtime import FrameContext, FrameRouter, FunctionBase
from imfaas.shared.settings import Settings

SOURCE = "/imfaas/functions/history"
NEEDS = ("messages", "conversations")


class HistoryFunction(FunctionBase):
    """Serves ``sync``, ``msg.history`` and ``conv.list``."""

    name = "history"

    def __init__(self, config: HistoryConfig, ports: Ports) -> None:
        self._config = config
        self._ports = ports
        self._router = FrameRouter(SOURCE)
        self._router.add("sync", self.sync)
        self._router.add("msg.history", self.history)
        self._router.add("conv.list", self.conversations)

    async def handle(self, event: CloudEvent) -> CloudEvent | None:
        """Serve one forwarded frame."""
        return await self._router.dispatch(event)

    async def sync(self, ctx: FrameContext, frame: dict[str, Any]) -> dict[str, Any]:
        """Every message above each cursor, ascending per conversation, ``limit`` in all."""
        cursors = read_cursors(frame)
        limit = read_limit(frame, self._config.sync_default_limit, self._config.sync_max_limit)
        for conversation in cursors:
            require_member(conversation, ctx.user_id)
        entries = {
            e.conversation: e
            # Every conversation, not a page of them: sync must not skip old ones.
            for e in await self._ports.conversations.list_for_user(ctx.user_id, None)
        }
        # Oldest activity first, so a long-idle conversation is not starved by busy ones.
        behind = sorted(
            (e for e in entries.values() if e.last_seq > cursors.get(e.conversation, 0)),
            key=lambda e: (e.last_ts, e.conversation),
        )
        messages: list[dict[str, Any]] = []
        new_cursors = dict(cursors)
        has_more = False
        for entry in behind:
            room = limit - len(messages)
            if room <= 0:
                has_more = True
                break
            after = cursors.get(entry.conversation, 0)
            page = await self._ports.messages.read_after(entry.conversation, after, room)
            if page:
                messages.extend(m.to_wire() for m in page)
                new_cursors[entry.conversation] = page[-1].seq
            if new_cursors.get(entry.conversation, after) < entry.last_seq:
                has_more = True
        return {
            "type": "sync.result",
            "messages": messages,
            "cursors": new_cursors,
            "has_more": has_more,
        }

    async def history(self, ctx: FrameContext, frame: dict[str, Any]) -> dict[str, Any]:
        """One conversation, newest first, before ``before_seq``."""
        if "conversation" not in frame:
            raise BadRequest("conversation is required")
        conversation = parse_conversation(frame["conversation"]).text
        require_member(conversation, ctx.user_id)
        limit = read_limit(
            frame, self._config.history_default_limit, self._config.history_max_limit
        )
        page = await self._ports.messages.read_before(
            conversation, read_before_seq(frame), limit + 1
        )
        return {
            "type": "msg.history.result",
            "messages": [m.to_wire() for m in page[:limit]],
            "has_more": len(page) > limit,
        }

    async def conversations(self, ctx: FrameContext, frame: dict[str, Any]) -> dict[str, Any]:
        """The user's conversations, newest activity first, with unread counts."""
        entries = await self._ports.conversations.list_for_user(
            ctx.user_id, self._config.conv_list_max
        )
        listed = []
        for entry in entries:
            last = await self._ports.messages.read_before(entry.conversation, None, 1)
            unread = await self._ports.messages.count_unread(
                entry.conversation, ctx.user_id, entry.read_seq
            )
            listed.append(
                {
                    "conversation": entry.conversation,
                    "last_seq": entry.last_seq,
                    "read_seq": entry.read_seq,
                    "unread": unread,
                    "last_message": last[0].to_wire() if last else None,
                }
            )
        return {"type": "conv.list.result", "conversations": listed}


def create_function(settings: Settings, ports: Ports) -> HistoryFunction:
    """Build the history function on already opened ports."""
    return HistoryFunction(HistoryConfig.from_settings(settings), ports)
