"""Turning a ``msg.send`` frame into a submission (pure: no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from imfaas.functions.send.config import SendConfig
from imfaas.shared.conversation_id import (
    check_plain_id,
    direct_conversation,
    parse_conversation,
)
from imfaas.shared.errors import BadRequest
from imfaas.shared.message import validate_client_msg_id, validate_content


@dataclass(frozen=True, slots=True)
class Submission:
    """A well-formed message (who may post it is the handler's check)."""

    conversation: str
    client_msg_id: str
    content: dict[str, Any]


def read_submission(frame: dict[str, Any], sender: str, config: SendConfig) -> Submission:
    """Validate a ``msg.send`` frame; raise ``BadRequest`` or ``TooLarge``."""
    has_to, has_conv = "to" in frame, "conversation" in frame
    if has_to == has_conv:
        raise BadRequest("give exactly one of 'to' and 'conversation'")
    if has_to:
        recipient = check_plain_id(frame["to"], "to")
        if recipient == sender:
            raise BadRequest("cannot send a direct message to yourself")
        conversation = direct_conversation(sender, recipient)
    else:
        conversation = parse_conversation(frame["conversation"]).text
    return Submission(
        conversation=conversation,
        client_msg_id=validate_client_msg_id(
            frame.get("client_msg_id"), config.max_client_msg_id_len
        ),
        content=validate_content(frame.get("content"), config.max_text_bytes),
    )
