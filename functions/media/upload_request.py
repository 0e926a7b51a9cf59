"""Reading ``media.upload_url`` and ``media.download_url`` frames (pure: no I/O)."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any

from imfaas.functions.media.config import MediaConfig
from imfaas.shared.errors import BadRequest, TooLarge

# type/subtype without parameters: the type is signed into the upload URL as it is.
_MIME = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}")
# What new_object_key makes; anything else cannot name an upload.
_OBJECT_KEY = re.compile(r"[0-9a-f]{32}")
MAX_NAME_CHARS = 255


@dataclass(frozen=True, slots=True)
class UploadRequest:
    """A valid upload: file name, exact size in bytes, content type (lower case)."""

    name: str
    size: int
    mime: str


def mime_allowed(mime: str, allowed: tuple[str, ...]) -> bool:
    """True when ``mime`` is listed, or its major type is listed as ``major/*``."""
    major = mime.split("/", 1)[0]
    return mime in allowed or f"{major}/*" in allowed


def read_upload_request(frame: dict[str, Any], config: MediaConfig) -> UploadRequest:
    """Validate an upload request; ``BadRequest``, or ``TooLarge`` past the size limit."""
    name, size, mime = frame.get("name"), frame.get("size"), frame.get("mime")
    if not isinstance(name, str) or not name or len(name) > MAX_NAME_CHARS:
        raise BadRequest(f"name must be a string of 1..{MAX_NAME_CHARS} chars")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise BadRequest("size must be a non-negative integer")
    if size > config.max_bytes:
        raise TooLarge(f"size is larger than {config.max_bytes} bytes")
    if not isinstance(mime, str) or not _MIME.fullmatch(mime.lower()):
        raise BadRequest("mime must be a content type like image/png, without parameters")
    if not mime_allowed(mime.lower(), config.mime_types):
        raise BadRequest(f"content type {mime} is not allowed")
    return UploadRequest(name, size, mime.lower())


def new_object_key() -> str:
    """A fresh, unguessable object key (128 random bits)."""
    return secrets.token_hex(16)


def read_object_key(frame: dict[str, Any]) -> str | None:
    """The frame's ``object_key``; None when it cannot name any upload (``BadRequest`` when
    it is not a non-empty string)."""
    key = frame.get("object_key")
    if not isinstance(key, str) or not key:
        raise BadRequest("object_key must be a non-empty string")
    return key if _OBJECT_KEY.fullmatch(key) else None
