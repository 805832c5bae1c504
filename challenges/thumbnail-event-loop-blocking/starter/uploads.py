"""The upload endpoint of the media service, modelled with plain asyncio.

In production a small HTTP layer calls ``UploadService.upload`` for ``POST /uploads`` and
``UploadService.health`` for the load balancer's ``GET /healthz``. Every request of the
process is served by the same event loop. This module is read-only for the incident.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from thumbnails import InvalidImageError, ThumbnailService

MAX_UPLOAD_BYTES = 25 * 1024 * 1024


@dataclass(frozen=True)
class Response:
    status: int
    body: dict[str, object] = field(default_factory=dict)


class UploadService:
    """Accepts uploads, stores their thumbnails and answers health checks."""

    def __init__(self, thumbnails: ThumbnailService) -> None:
        self._thumbnails = thumbnails
        self._stored: dict[str, bytes] = {}

    async def upload(self, upload_id: str, data: bytes) -> Response:
        """Handle ``POST /uploads``: 201 with the thumbnail size, 4xx for bad uploads."""
        if len(data) > MAX_UPLOAD_BYTES:
            return Response(413, {"error": "upload too large"})
        try:
            thumbnail = await self._thumbnails.create_thumbnail(data)
        except InvalidImageError as exc:
            return Response(422, {"error": str(exc)})
        self._stored[upload_id] = thumbnail
        return Response(201, {"id": upload_id, "thumbnail_bytes": len(thumbnail)})

    async def health(self) -> Response:
        """Handle ``GET /healthz``. The load balancer gives it 100 ms to answer."""
        return Response(200, {"status": "ok"})

    def thumbnail(self, upload_id: str) -> bytes | None:
        """The stored thumbnail of an upload, if it was accepted."""
        return self._stored.get(upload_id)
