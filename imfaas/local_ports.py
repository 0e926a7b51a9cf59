"""Free loopback port ranges for the local cluster, the end-to-end tests and the benchmarks."""

from __future__ import annotations

import random
import socket

from imfaas.shared.function_catalog import FUNCTION_NAMES

# `imfaas up` uses base .. base + 9 for gateways and the dispatcher's health port, then one
# port per function from base + 10.
CLUSTER_SPAN = 10 + len(FUNCTION_NAMES)


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port_range(span: int = CLUSTER_SPAN) -> int:
    """A base port with ``span`` free ports after it, below Linux's ephemeral range
    (32768-60999): a port in that range may be taken by any outgoing connection, or even
    connect to itself while its server is still starting."""
    for _ in range(200):
        base = random.randrange(12000, 32000 - span)
        if all(_port_free(base + i) for i in range(span)):
            return base
    raise RuntimeError("no free port range below 32000")
