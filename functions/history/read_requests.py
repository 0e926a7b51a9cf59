"""Parsing the requests of the history function (pure)."""

from __future__ import annotations

from typing import Any

from imfaas.shared.conversation_id import parse_conversation
from imfaas.shared.errors import BadRequest

MAX_CURSORS = 10_000
# Storage keeps seqs as signed 64-bit integers: no seq is larger.
MAX_SEQ = 2**63 - 1


def read_limit(frame: dict[str, Any], default: int, maximum: int) -> int:
    """``limit`` if present (1..maximum), else the default."""
    limit = frame.get("limit", default)
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= maximum:
        raise BadRequest(f"limit must be an integer in 1..{maximum}")
    return limit


def read_cursors(frame: dict[str, Any]) -> dict[str, int]:
    """``cursors``: conversation id → last seq seen (0 or more)."""
    cursors = frame.get("cursors", {})
    if not isinstance(cursors, dict):
        raise BadRequest("cursors must be an object")
    if len(cursors) > MAX_CURSORS:
        raise BadRequest(f"at most {MAX_CURSORS} cursors")
    parsed: dict[str, int] = {}
    for conversation, seq in cursors.items():
        parse_conversation(conversation)
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
            raise BadRequest("a cursor must be a non-negative integer")
        parsed[conversation] = seq
    return parsed


def read_before_seq(frame: dict[str, Any]) -> int | None:
    """``before_seq`` (exclusive), or None for the newest."""
    before = frame.get("before_seq")
    if before is None:
        return None
    if not isinstance(before, int) or isinstance(before, bool) or not 1 <= before <= MAX_SEQ:
        raise BadRequest(f"before_seq must be an integer in 1..{MAX_SEQ}")
    return before


def read_position(frame: dict[str, Any]) -> tuple[str, int]:
    """``conversation`` and ``seq`` of ``msg.read``, ``msg.recall`` and ``msg.edit``."""
    if "conversation" not in frame:
        raise BadRequest("conversation is required")
    conversation = parse_conversation(frame["conversation"]).text
    seq = frame.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool) or not 1 <= seq <= MAX_SEQ:
        raise BadRequest(f"seq must be an integer in 1..{MAX_SEQ}")
    return conversation, seq
