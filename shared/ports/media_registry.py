"""Uploaded media: who uploaded each object, and which conversations reference it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class MediaUpload:
    """One upload granted by ``media.upload_url`` (the bytes live in the object store)."""

    object_key: str
    uploader: str
    name: str
    size: int
    mime: str
    created_ms: int


class MediaRegistry(Protocol):
    """Durable upload records and references. Object keys are unique and never reused."""

    async def record_upload(self, upload: MediaUpload) -> None:
        """Insert an upload; raise ``Conflict`` if its key is already recorded. Atomic."""

    async def get_upload(self, object_key: str) -> MediaUpload | None:
        """The upload of this key, or None."""

    async def add_reference(self, object_key: str, conversation: str) -> None:
        """Record that a message of ``conversation`` references the object (idempotent)."""

    async def conversations_referencing(self, object_key: str) -> list[str]:
        """Every conversation with a message referencing the object, sorted."""
