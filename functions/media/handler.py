"""The media function: presigned upload and download URLs; bytes never pass through it."""

from __future__ import annotations

import time
from typing import Any

from cloudevents.http import CloudEvent

from imfaas.functions.media.config import MediaConfig
from imfaas.functions.media.upload_request import (
    new_object_key,
    read_object_key,
    read_upload_request,
)
from imfaas.shared.adapter_factory import Ports
from imfaas.shared.conversation_members import conversation_members
from imfaas.shared.errors import NotFound
from imfaas.shared.function_runtime import FrameContext, FrameRouter, FunctionBase
from imfaas.shared.ports.media_registry import MediaUpload
from imfaas.shared.settings import Settings

SOURCE = "/imfaas/functions/media"
NEEDS = ("media", "objects", "groups", "cache")


class MediaFunction(FunctionBase):
    """Serves ``media.upload_url`` and ``media.download_url``.

    An object a caller may not read is ``not_found``, exactly as one that does not exist:
    the answer never tells an outsider that a key is in use.
    """

    name = "media"

    def __init__(self, config: MediaConfig, ports: Ports) -> None:
        self._config = config
        self._ports = ports
        self._members = conversation_members(ports.groups_, ports.cache_)
        self._router = FrameRouter(SOURCE)
        self._router.add("media.upload_url", self.upload_url)
        self._router.add("media.download_url", self.download_url)

    async def start(self) -> None:
        """Create the media bucket when the settings ask for it (dev and tests)."""
        if self._config.ensure_bucket:
            await self._ports.objects.ensure_bucket(self._config.bucket)

    async def handle(self, event: CloudEvent) -> CloudEvent | None:
        """Serve one forwarded frame."""
        return await self._router.dispatch(event)

    async def upload_url(self, ctx: FrameContext, frame: dict[str, Any]) -> dict[str, Any]:
        """Record the upload, then presign one PUT of exactly its size and type."""
        request = read_upload_request(frame, self._config)
        key = new_object_key()
        await self._ports.media.record_upload(
            MediaUpload(key, ctx.user_id, request.name, request.size, request.mime, _now_ms())
        )
        url = self._ports.objects.presign_put(
            self._config.bucket, key, request.size, request.mime, self._config.url_ttl_s
        )
        return {
            "type": "media.upload_url.ok",
            "object_key": key,
            "url": url,
            "method": "PUT",
            # Both are signed into the URL: a body of another length or type gets 403.
            "headers": {"Content-Type": request.mime, "Content-Length": str(request.size)},
        }

    async def download_url(self, ctx: FrameContext, frame: dict[str, Any]) -> dict[str, Any]:
        """Presign a GET for the uploader or a member of a conversation referencing it."""
        key = read_object_key(frame)
        upload = await self._ports.media.get_upload(key) if key else None
        if upload is None or not await self._may_read(upload, ctx.user_id):
            raise NotFound("no such object")
        if await self._ports.objects.object_size(self._config.bucket, upload.object_key) is None:
            raise NotFound("the object has not been uploaded")
        url = self._ports.objects.presign_get(
            self._config.bucket, upload.object_key, self._config.url_ttl_s
        )
        return {"type": "media.download_url.ok", "url": url}

    async def _may_read(self, upload: MediaUpload, user_id: str) -> bool:
        if upload.uploader == user_id:
            return True
        for conversation in await self._ports.media.conversations_referencing(upload.object_key):
            try:
                if user_id in await self._members.members_of(conversation):
                    return True
            except NotFound:
                continue  # a group that no longer exists grants nothing
        return False


def _now_ms() -> int:
    return int(time.time() * 1000)


def create_function(settings: Settings, ports: Ports) -> MediaFunction:
    """Build the media function on already opened ports."""
    return MediaFunction(MediaConfig.from_settings(settings), ports)
