"""Messages and their content, validated as the protocol defines them (pure, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from imfaas.shared.errors import BadRequest, TooLarge

CONTENT_KINDS = ("text", "file", "cipher")


@dataclass(frozen=True, slots=True)
class MessageDraft:
    """A message accepted by ``send`` and not yet given a seq."""

    conversation: str
    sender: str
    sender_device: str
    client_msg_id: str
    content: dict[str, Any]
    ts: int
    # The id of the submission event: the same on every redelivery of it, new on a resend.
    submission_id: str = ""


@dataclass(frozen=True, slots=True)
class Message:
    """A stored message: the draft plus its gap-free ``seq`` and server id."""

    conversation: str
    seq: int
    msg_id: str
    sender: str
    sender_device: str
    client_msg_id: str
    ts: int
    content: dict[str, Any] | None
    recalled: bool = False
    edited: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def to_wire(self) -> dict[str, Any]:
        """The protocol's message object."""
        wire: dict[str, Any] = {
            "conversation": self.conversation,
            "seq": self.seq,
            "msg_id": self.msg_id,
            "sender": self.sender,
            "sender_device": self.sender_device,
            "client_msg_id": self.client_msg_id,
            "ts": self.ts,
        }
        if self.recalled:
            wire["recalled"] = True
        elif self.content is not None:
            wire["content"] = self.content
        if self.edited:
            wire["edited"] = True
        return wire

    @classmethod
    def from_wire(cls, wire: dict[str, Any]) -> Message:
        """Rebuild a message from its protocol object (as carried in events)."""
        return cls(
            conversation=wire["conversation"],
            seq=int(wire["seq"]),
            msg_id=wire["msg_id"],
            sender=wire["sender"],
            sender_device=wire["sender_device"],
            client_msg_id=wire["client_msg_id"],
            ts=int(wire["ts"]),
            content=wire.get("content"),
            recalled=bool(wire.get("recalled", False)),
            edited=bool(wire.get("edited", False)),
        )


def make_msg_id(conversation: str, seq: int) -> str:
    """The server id of a message: stable, derived from its place in the log."""
    return f"{conversation}#{seq}"


def _require_str(content: dict[str, Any], key: str, max_len: int = 1024) -> str:
    value = content.get(key)
    if not isinstance(value, str) or not value:
        raise BadRequest(f"content.{key} must be a non-empty string")
    if len(value) > max_len:
        raise TooLarge(f"content.{key} is longer than {max_len}")
    return value


def validate_content(content: object, max_text_bytes: int) -> dict[str, Any]:
    """Check a message's content against the protocol; raise ``BadRequest`` or ``TooLarge``."""
    if not isinstance(content, dict):
        raise BadRequest("content must be an object")
    kind = content.get("kind")
    if kind == "text":
        text = content.get("text")
        if not isinstance(text, str) or not text:
            raise BadRequest("content.text must be a non-empty string")
        if len(text.encode("utf-8")) > max_text_bytes:
            raise TooLarge(f"text is larger than {max_text_bytes} bytes")
        return {"kind": "text", "text": text}
    if kind == "file":
        size = content.get("size")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise BadRequest("content.size must be a non-negative integer")
        return {
            "kind": "file",
            "object_key": _require_str(content, "object_key"),
            "name": _require_str(content, "name", 255),
            "size": size,
            "mime": _require_str(content, "mime", 255),
        }
    if kind == "cipher":
        _require_str(content, "alg", 64)
        _require_str(content, "ciphertext", max_text_bytes * 2)
        # Opaque to the server: keep every field the client sent.
        return dict(content)
    raise BadRequest(f"content.kind must be one of {', '.join(CONTENT_KINDS)}")


def validate_client_msg_id(value: object, max_len: int) -> str:
    """Check a client's message id (the dedup key with the sender)."""
    if not isinstance(value, str) or not value or len(value) > max_len:
        raise BadRequest(f"client_msg_id must be a string of 1..{max_len} chars")
    return value
