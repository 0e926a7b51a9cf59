"""The gateway's access log: method, path, status, size and time, never the query string.

aiohttp's default line carries the whole request line, and a presigned object URL's query is
its signature: whoever reads the log could use the URL until it expires.
"""

from __future__ import annotations

import logging

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web import BaseRequest, StreamResponse


class PathOnlyAccessLogger(AbstractAccessLogger):
    """One INFO line per request without query string, Referer or any other header."""

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        """Write the line (``%`` formatting is left to the logger, so it costs nothing when
        INFO is off)."""
        self.logger.info(
            '%s "%s %s" %s %s %.1fms',
            request.remote,
            request.method,
            request.path,
            response.status,
            response.body_length,
            time * 1000,
        )

    @property
    def enabled(self) -> bool:
        """Skip building the line when INFO is off."""
        return self.logger.isEnabledFor(logging.INFO)
