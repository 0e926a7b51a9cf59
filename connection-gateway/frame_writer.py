"""Server-to-client WebSocket text frames, built once and written straight to the socket.

A server frame is unmasked (RFC 6455 §5.1) and the gateway negotiates no compression, so
the bytes of one frame are the same for every socket it goes to: a group message is framed
once and handed to each member's transport, with no per-socket Python framing or awaiting.
"""

from __future__ import annotations

import asyncio
import struct

_FIN_TEXT = 0x81
_LEN16 = struct.Struct("!BBH")
_LEN64 = struct.Struct("!BBQ")


def text_frame(text: str) -> bytes:
    """The complete wire bytes of one unfragmented, unmasked text frame."""
    payload = text.encode("utf-8")
    size = len(payload)
    if size < 126:
        return bytes((_FIN_TEXT, size)) + payload
    if size < 65536:
        return _LEN16.pack(_FIN_TEXT, 126, size) + payload
    return _LEN64.pack(_FIN_TEXT, 127, size) + payload


class FrameWriter:
    """Writes prebuilt frames to one socket without waiting; reports a client that lags."""

    __slots__ = ("_max_buffered", "_transport")

    def __init__(self, transport: asyncio.Transport, max_buffered: int) -> None:
        self._transport = transport
        self._max_buffered = max_buffered

    def write(self, frame: bytes) -> bool:
        """Queue ``frame``; False when the socket is gone or its unsent bytes pass the limit.

        A client that stops reading must not hold up delivery to everyone else on the
        node, nor grow the gateway's memory without bound: the caller closes it instead,
        and the client catches up with ``sync`` after it reconnects.
        """
        transport = self._transport
        if transport.is_closing():
            return False
        transport.write(frame)
        return transport.get_write_buffer_size() <= self._max_buffered

    def abort(self) -> None:
        """Drop the connection and its unsent bytes at once."""
        self._transport.abort()
