"""Size of client text in UTF-8 bytes, the unit the protocol's limits use."""

from __future__ import annotations

from imfaas.shared.errors import BadRequest, TooLarge


def check_text_size(text: str, what: str, max_bytes: int) -> str:
    """Return ``text``; ``BadRequest`` if it is not Unicode, ``TooLarge`` beyond ``max_bytes``."""
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError as exc:  # a lone surrogate is not text
        raise BadRequest(f"{what} must be valid Unicode") from exc
    if size > max_bytes:
        raise TooLarge(f"{what} is larger than {max_bytes} bytes")
    return text
