"""The gateway's own TLS: one server context whose certificate is swapped when its files change.

For installs without an ingress (Helm ``gateway.tls.mode: gateway``): cert-manager or an
operator rewrites the mounted secret, and new handshakes pick the new certificate up while
open sockets stay as they are; no restart, no dropped clients.
"""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
from pathlib import Path

log = logging.getLogger("imfaas.gateway.tls")


class ReloadingTLS:
    """A server ``SSLContext`` (TLS 1.2+) for a cert/key pair, reloaded on change."""

    def __init__(self, cert_file: Path, key_file: Path) -> None:
        self.cert_file = cert_file
        self.key_file = key_file
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.minimum_version = ssl.TLSVersion.TLSv1_2
        self.reloads = 0
        self._stamp = self._file_stamp()
        # A bad pair at start-up is fatal (ssl.SSLError, OSError): better than serving none.
        self.context.load_cert_chain(cert_file, key_file)

    def _file_stamp(self) -> tuple[float, int, float, int]:
        cert, key = os.stat(self.cert_file), os.stat(self.key_file)
        return (cert.st_mtime, cert.st_size, key.st_mtime, key.st_size)

    def check(self) -> bool:
        """Reload if either file changed; True when a new pair is now served. A pair that does
        not load (half written, mismatched) is skipped: the old one stays until the next change."""
        try:
            stamp = self._file_stamp()
        except OSError as exc:
            log.warning("tls files unreadable, keeping the current certificate: %s", exc)
            return False
        if stamp == self._stamp:
            return False
        try:
            self.context.load_cert_chain(self.cert_file, self.key_file)
        except (ssl.SSLError, OSError) as exc:
            log.warning("new tls files do not load, keeping the current certificate: %s", exc)
            return False
        self._stamp = stamp
        self.reloads += 1
        log.info("tls certificate reloaded")
        return True

    async def watch(self, every_s: float) -> None:
        """Check for new files every ``every_s`` seconds, until cancelled."""
        while True:
            await asyncio.sleep(every_s)
            self.check()
