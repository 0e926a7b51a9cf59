"""Conversation ids as the protocol defines them: ``d:<a>:<b>`` (sorted) and ``g:<group>``."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from functools import lru_cache

from imfaas.shared.errors import BadRequest

MAX_ID_LEN = 64


def new_user_id() -> str:
    """A fresh opaque user id (no ``:``, URL-safe)."""
    return "u" + secrets.token_hex(8)


def new_device_id() -> str:
    """A server-made device id for clients that did not choose one."""
    return "dev" + secrets.token_hex(8)


def check_plain_id(value: object, what: str) -> str:
    """Return ``value`` if it is a usable user/device/group id, else raise ``BadRequest``."""
    if not isinstance(value, str) or not value or len(value) > MAX_ID_LEN or ":" in value:
        raise BadRequest(f"{what} must be a non-empty string of at most {MAX_ID_LEN} chars, no ':'")
    if not value.isprintable() or value.strip() != value:
        raise BadRequest(f"{what} has forbidden characters")
    return value


@dataclass(frozen=True, slots=True)
class ConversationId:
    """A parsed conversation id."""

    kind: str  # "d" (direct) or "g" (group)
    parts: tuple[str, ...]

    @property
    def text(self) -> str:
        """The wire form."""
        return ":".join((self.kind, *self.parts))

    def direct_members(self) -> tuple[str, str]:
        """The two users of a direct conversation."""
        if self.kind != "d":
            raise ValueError("not a direct conversation")
        return self.parts[0], self.parts[1]


def direct_conversation(user_a: str, user_b: str) -> str:
    """The id of the direct conversation between two users (code-point order)."""
    low, high = sorted((user_a, user_b))
    return f"d:{low}:{high}"


def parse_conversation(value: object) -> ConversationId:
    """Parse and validate a conversation id; raise ``BadRequest`` if malformed."""
    if not isinstance(value, str) or len(value) > 2 * MAX_ID_LEN + 4:
        raise BadRequest("conversation must be a string")
    return _parse_text(value)


# A message's conversation id is parsed four times on its way (send, store, fanout, the
# membership check) at ~8 µs each; ids repeat, and a malformed one raises, so is not kept.
@lru_cache(maxsize=8192)
def _parse_text(value: str) -> ConversationId:
    kind, _, rest = value.partition(":")
    if kind == "d":
        parts = rest.split(":")
        if len(parts) != 2:
            raise BadRequest("direct conversation must be d:<user_a>:<user_b>")
        a, b = (check_plain_id(p, "user id") for p in parts)
        if not a < b:
            raise BadRequest("direct conversation users must be distinct and sorted")
        return ConversationId("d", (a, b))
    if kind == "g":
        return ConversationId("g", (check_plain_id(rest, "group id"),))
    raise BadRequest("conversation must start with d: or g:")
