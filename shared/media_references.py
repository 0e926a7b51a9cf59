"""File messages and the uploads they name: who may send one, and what a stored one grants."""

from __future__ import annotations

from typing import Any

from imfaas.shared.errors import Forbidden, NotFound
from imfaas.shared.ports.media_registry import MediaRegistry


def referenced_object(content: dict[str, Any] | None) -> str | None:
    """The object key a message's content names, if it is a ``file``."""
    if isinstance(content, dict) and content.get("kind") == "file":
        key = content.get("object_key")
        return key if isinstance(key, str) else None
    return None


async def require_own_upload(media: MediaRegistry, content: dict[str, Any], sender: str) -> None:
    """A ``file`` content must name the sender's own upload, with its size and type.

    Someone else's key is ``not_found``, like a key never granted: sending cannot probe
    which keys exist. Other contents pass unchecked.
    """
    key = referenced_object(content)
    if key is None:
        return
    upload = await media.get_upload(key)
    if upload is None or upload.uploader != sender:
        raise NotFound("no such object")
    if upload.size != content.get("size") or upload.mime != str(content.get("mime")).lower():
        raise Forbidden("size or mime differ from the upload")
