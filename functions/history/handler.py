"""The history function: the message log and conversation list as members see them.

Reads (``sync``, ``msg.history``, ``conv.list``) and the member actions that change what
those reads return: read marks (``msg.read``), ``msg.recall`` and ``msg.edit``. Membership
is checked on every request; the other members hear of a change through ``users.notified``.
"""

from __future__ import annotations

import time
from typing import Any

from cloudevents.http import CloudEvent

from imfaas.events import catalog
from imfaas.events.codec import new_event
from imfaas.functions.history.amendments import check_edit, check_recall
from imfaas.functions.history.config import HistoryConfig
from imfaas.functions.history.read_requests import (
    read_before_seq,
    read_cursors,
    read_limit,
    read_position,
)
from imfaas.shared.adapter_factory import Ports
from imfaas.shared.conversation_id import parse_conversation
from imfaas.shared.conversation_members import conversation_members
from imfaas.shared.errors import BadRequest, Forbidden, NotFound
from imfaas.shared.function_runtime import FrameContext, FrameRouter, FunctionBase
from imfaas.shared.message import Message, validate_content
from imfaas.shared.ports.conversation_index import ConversationEntry
from imfaas.shared.settings import Settings

SOURCE = "/imfaas/functions/history"
NEEDS = ("messages", "conversations", "groups", "cache", "bus")


class HistoryFunction(FunctionBase):
    """Serves the frames the function catalog routes to ``history``."""

    name = "history"

    def __init__(self, config: HistoryConfig, ports: Ports) -> None:
        self._config = config
        self._ports = ports
        self._members = conversation_members(ports.groups_, ports.cache_)
        self._router = FrameRouter(SOURCE)
        self._router.add("sync", self.sync)
        self._router.add("msg.history", self.history)
        self._router.add("conv.list", self.conversations)
        self._router.add("msg.read", self.read)
        self._router.add("msg.recall", self.recall)
        self._router.add("msg.edit", self.edit)

    async def handle(self, event: CloudEvent) -> CloudEvent | None:
        """Serve one forwarded frame."""
        return await self._router.dispatch(event)

    async def sync(self, ctx: FrameContext, frame: dict[str, Any]) -> dict[str, Any]:
        """Every message above each cursor, ascending per conversation, ``limit`` in all."""
        cursors = read_cursors(frame)
        limit = read_limit(frame, self._config.sync_default_limit, self._config.sync_max_limit)
        # Every conversation, not a page of them: sync must not skip old ones.
        entries = await self._entries(ctx.user_id)
        gone = []
        for conversation in cursors:
            if conversation.startswith("d:"):
                await self._members.require_member(conversation, ctx.user_id)
            elif conversation not in entries:
                # A group the user left, was kicked from or saw dissolved: named in ``gone``
                # rather than failing every later sync of a client that still holds its cursor.
                gone.append(conversation)
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
            **({"gone": gone} if gone else {}),
        }

    async def history(self, ctx: FrameContext, frame: dict[str, Any]) -> dict[str, Any]:
        """One conversation, newest first, before ``before_seq``."""
        if "conversation" not in frame:
            raise BadRequest("conversation is required")
        conversation = parse_conversation(frame["conversation"]).text
        await self._members.require_member(conversation, ctx.user_id)
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
        everything = await self._entries(ctx.user_id)
        entries = sorted(everything.values(), key=lambda e: (-e.last_ts, e.conversation))
        listed = []
        for entry in entries[: self._config.conv_list_max]:
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

    async def read(self, ctx: FrameContext, frame: dict[str, Any]) -> dict[str, Any]:
        """Raise the caller's read mark; a seq beyond the last message is ``bad_request``."""
        conversation, seq = read_position(frame)
        members = await self._members.require_member(conversation, ctx.user_id)
        if conversation.startswith("g:"):
            # A group message writes no row per member: the reader's row holds just the mark.
            last_seq = (await self._ports.conversations.activity([conversation])).get(
                conversation, (0, 0)
            )[0]
            if 0 < seq <= last_seq:
                await self._ports.conversations.ensure_entry(ctx.user_id, conversation)
            entry = ConversationEntry(conversation, last_seq, 0, 0)
        else:
            entries = await self._ports.conversations.get_entries(ctx.user_id, [conversation])
            entry = entries.get(conversation)
        # Every seq a client has seen is counted in last_seq before anyone is told of it, so
        # a larger one is a client's mistake, not a race: refuse it rather than clamp.
        if entry is None or seq > entry.last_seq:
            raise BadRequest("seq is beyond the conversation's last message")
        mark = await self._ports.conversations.set_read(ctx.user_id, conversation, seq)
        if mark is None:
            raise NotFound("no such conversation")
        # Sent again on a repeated read (the mark unchanged), so a lost event is resent too.
        receipt = {"type": "receipt", "conversation": conversation, "user": ctx.user_id}
        await self._notify(ctx, conversation, members, {**receipt, "seq": mark})
        return {"type": "msg.read.ok"}

    async def recall(self, ctx: FrameContext, frame: dict[str, Any]) -> dict[str, Any]:
        """Recall a message: the sender within the window (a moderator at any time)."""
        conversation, seq = read_position(frame)
        members = await self._members.require_member(conversation, ctx.user_id)
        message = await self._message(conversation, seq)
        check_recall(
            message,
            ctx.user_id,
            int(time.time() * 1000),
            self._config.recall_window_ms,
            moderator=await self._members.moderates(conversation, ctx.user_id),
        )
        if await self._ports.messages.recall(conversation, seq) is None:
            raise NotFound("no message with that seq")
        frame_out = {"type": "msg.recalled", "conversation": conversation, "seq": seq}
        await self._notify(ctx, conversation, members, frame_out)
        return {"type": "msg.recall.ok"}

    async def edit(self, ctx: FrameContext, frame: dict[str, Any]) -> dict[str, Any]:
        """Replace the content of the caller's own message (same kind, same limits as a send)."""
        conversation, seq = read_position(frame)
        content = validate_content(frame.get("content"), self._config.max_text_bytes)
        members = await self._members.require_member(conversation, ctx.user_id)
        check_edit(await self._message(conversation, seq), ctx.user_id, content)
        edited = await self._ports.messages.edit(conversation, seq, content)
        if edited is None:
            raise NotFound("no message with that seq")
        if edited.recalled:  # recalled between the check and the edit
            raise Forbidden("a recalled message cannot be edited")
        frame_out = {"type": "msg.edited", "conversation": conversation, "seq": seq}
        await self._notify(ctx, conversation, members, {**frame_out, "content": edited.content})
        return {"type": "msg.edit.ok"}

    async def _entries(self, user_id: str) -> dict[str, ConversationEntry]:
        """Every conversation of the user: direct ones from the index; each group the user
        belongs to now, with the group's activity and the user's read mark."""
        rows = await self._ports.conversations.list_for_user(user_id, None)
        groups = [f"g:{group_id}" for group_id in await self._ports.groups.groups_of(user_id)]
        activity = await self._ports.conversations.activity(groups)
        marks = {e.conversation: e.read_seq for e in rows if e.conversation.startswith("g:")}
        entries = {e.conversation: e for e in rows if not e.conversation.startswith("g:")}
        for conversation in groups:
            last_seq, last_ts = activity.get(conversation, (0, 0))
            read_seq = marks.get(conversation, 0)
            entries[conversation] = ConversationEntry(conversation, last_seq, last_ts, read_seq)
        return entries

    async def _message(self, conversation: str, seq: int) -> Message:
        message = await self._ports.messages.get(conversation, seq)
        if message is None:
            raise NotFound("no message with that seq")
        return message

    async def _notify(
        self, ctx: FrameContext, conversation: str, members: list[str], frame: dict[str, Any]
    ) -> None:
        """Every member's online devices get ``frame``, but the requesting socket (it has
        its reply); keyed by conversation so a conversation's events keep their order."""
        data = {
            "users": list(dict.fromkeys(members)),
            "frame": frame,
            "skip": {"node": ctx.node_id, "conn": ctx.conn_id},
        }
        await self._ports.bus.publish(
            new_event(catalog.USERS_NOTIFIED, SOURCE, data, subject=conversation),
            key=conversation,
        )


def create_function(settings: Settings, ports: Ports) -> HistoryFunction:
    """Build the history function on already opened ports."""
    return HistoryFunction(HistoryConfig.from_settings(settings), ports)
