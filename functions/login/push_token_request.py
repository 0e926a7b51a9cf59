"""Reading a ``device.push_token`` frame (pure)."""

from __future__ import annotations

import re
from typing import Any

from imfaas.shared.errors import BadRequest

PROVIDERS = ("fcm", "apns", "hms")
# FCM registration tokens run to about 200 characters, APNs device tokens are 64 hex digits,
# HMS tokens about 130; the limit leaves room for longer formats, not for payloads.
MAX_TOKEN_CHARS = 4096
# Every provider's tokens are printable ASCII without spaces.
_TOKEN = re.compile(r"[\x21-\x7e]+")


def read_push_token(frame: dict[str, Any]) -> tuple[str, str]:
    """The frame's provider and token; ``BadRequest`` unless both are well formed."""
    provider = frame.get("provider")
    if provider not in PROVIDERS:
        raise BadRequest(f"provider must be one of {', '.join(PROVIDERS)}")
    token = frame.get("token")
    if not isinstance(token, str) or not 1 <= len(token) <= MAX_TOKEN_CHARS:
        raise BadRequest(f"token must be a string of 1-{MAX_TOKEN_CHARS} characters")
    if not _TOKEN.fullmatch(token):
        raise BadRequest("token must be printable ASCII without spaces")
    return str(provider), token
