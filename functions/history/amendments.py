"""Who may recall or edit a stored message, and what an edit may change (pure).

The kind rule: an edit keeps the message's kind. Text is edited to text and cipher to
cipher (never cipher into readable text, which would silently drop its encryption); a file
message is not edited at all (its object was checked when it was sent: recall it and send
another).
"""

from __future__ import annotations

from typing import Any

from imfaas.shared.errors import BadRequest, Forbidden
from imfaas.shared.message import Message

EDITABLE_KINDS = ("text", "cipher")


def check_recall(
    message: Message, user_id: str, now_ms: int, window_ms: int, moderator: bool
) -> None:
    """Raise ``Forbidden`` unless ``user_id`` may recall ``message`` now.

    The sender may within the window; a moderator (a group's owner or admin) at any time.
    Recalling an already recalled message again is allowed to whoever could, so a client's
    retry after a lost reply succeeds.
    """
    if moderator:
        return
    if message.sender != user_id:
        raise Forbidden("only the sender may recall a message")
    if message.recalled:
        return
    if now_ms - message.ts > window_ms:
        raise Forbidden("the recall window has passed")


def check_edit(message: Message, user_id: str, content: dict[str, Any]) -> None:
    """Raise ``Forbidden`` unless ``user_id`` sent ``message`` and it is not recalled;
    ``BadRequest`` if ``content`` breaks the kind rule."""
    if message.sender != user_id:
        raise Forbidden("only the sender may edit a message")
    if message.recalled:
        raise Forbidden("a recalled message cannot be edited")
    kind = (message.content or {}).get("kind")
    if kind not in EDITABLE_KINDS:
        raise BadRequest(f"a {kind} message cannot be edited; recall it and send another")
    if content["kind"] != kind:
        raise BadRequest(f"an edit keeps the message's kind: {kind}")
