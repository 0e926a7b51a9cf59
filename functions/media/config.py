"""The media function's settings."""

from __future__ import annotations

from dataclasses import dataclass

from imfaas.shared.settings import Settings


@dataclass(frozen=True, slots=True)
class MediaConfig:
    """Upload limits, the bucket, and how long presigned URLs live."""

    bucket: str
    max_bytes: int
    mime_types: tuple[str, ...]
    url_ttl_s: int
    # Create the bucket at start (dev and tests); production runs `imfaas migrate`.
    ensure_bucket: bool

    @classmethod
    def from_settings(cls, settings: Settings) -> MediaConfig:
        """Pick this function's values."""
        return cls(
            bucket=settings.s3_media_bucket,
            max_bytes=settings.media_max_bytes,
            mime_types=tuple(m.lower() for m in settings.media_mime_types),
            url_ttl_s=settings.media_url_ttl_s,
            ensure_bucket=settings.auto_migrate,
        )
