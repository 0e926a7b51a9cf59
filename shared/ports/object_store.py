"""Object storage for media and backups (MinIO in production; any S3 server works)."""

from __future__ import annotations

from typing import Protocol


class ObjectStore(Protocol):
    """Bytes never pass through functions: clients upload and download with presigned URLs."""

    async def ensure_bucket(self, bucket: str) -> None:
        """Create the bucket if it does not exist (idempotent)."""

    def presign_put(self, bucket: str, key: str, size: int, mime: str, ttl_s: int) -> str:
        """A URL that accepts one PUT of exactly ``size`` bytes of ``mime`` until ``ttl_s``."""

    def presign_get(self, bucket: str, key: str, ttl_s: int) -> str:
        """A URL that serves the object until ``ttl_s``."""

    async def object_size(self, bucket: str, key: str) -> int | None:
        """The stored object's size, or None when it does not exist."""
