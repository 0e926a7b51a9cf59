"""Smoke check of the Centrifugo peer and the client adapter.

Run ``bench/peer/centrifugo.sh start`` first. Users ``a`` and ``b`` connect; ``a`` publishes
100 messages to ``personal:b`` one at a time (each waits for its publish reply), then 100 more
pipelined (all in flight at once). ``b`` must receive every message, in order. Prints the
counts, the median publish round trip (sequential phase) and the median publish-to-receipt
latency. Exit status 0 only when everything arrived in order.

    python bench/peer/smoke.py [--url ws://127.0.0.1:28000/connection/websocket] [-n 100]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time

from centrifugo_client import PeerConnection

DEFAULT_URL = f"ws://127.0.0.1:{os.environ.get('IMFAAS_PEER_PORT', '28000')}/connection/websocket"


async def receive(conn: PeerConnection, n: int) -> list[tuple[str, int]]:
    return [await conn.messages.get() for _ in range(n)]


async def run(url: str, n: int) -> bool:
    a = await PeerConnection.open(url, "a")
    b = await PeerConnection.open(url, "b")
    try:
        # Phase 1: sequential publishes; round trip = send -> publish reply.
        sent_ns: dict[str, int] = {}
        rtts: list[int] = []
        receiver = asyncio.create_task(receive(b, n))
        for i in range(n):
            text = f"seq-{i}"
            t0 = time.perf_counter_ns()
            sent_ns[text] = t0
            await a.publish("b", text)
            rtts.append(time.perf_counter_ns() - t0)
        got_seq = await receiver

        # Phase 2: n publishes pipelined on one connection, replies matched by id.
        receiver = asyncio.create_task(receive(b, n))
        t0 = time.perf_counter_ns()
        texts = [f"pipe-{i}" for i in range(n)]
        for text in texts:
            sent_ns[text] = t0
        await asyncio.gather(*(a.publish("b", text) for text in texts))
        pipe_ns = time.perf_counter_ns() - t0
        got_pipe = await receiver
    finally:
        await a.close()
        await b.close()

    ok = True
    for phase, got, want in (
        ("sequential", got_seq, [f"seq-{i}" for i in range(n)]),
        ("pipelined", got_pipe, texts),
    ):
        texts_got = [text for text, _ in got]
        in_order = texts_got == want
        ok &= in_order
        print(f"{phase:10s}: published {n}, b received {len(got)}, in order: {in_order}")
    e2e = [ts - sent_ns[text] for text, ts in got_seq]
    extra = (a.messages.qsize(), b.messages.qsize())
    print(f"unexpected extra messages (a, b): {extra}")
    ok &= extra == (0, 0)
    us = [rtt / 1e3 for rtt in rtts]
    print(
        f"publish round trip (sequential, send -> reply): median {statistics.median(us):.0f} us,"
        f" min {min(us):.0f} us, max {max(us):.0f} us"
    )
    print(f"publish -> receipt by b (sequential): median {statistics.median(e2e) / 1e3:.0f} us")
    print(f"{n} pipelined publishes, all replies in {pipe_ns / 1e6:.1f} ms")
    print("SMOKE OK" if ok else "SMOKE FAILED")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=DEFAULT_URL)
    parser.add_argument("-n", type=int, default=100)
    parser.add_argument("--timeout", type=float, default=30.0, help="overall limit, seconds")
    args = parser.parse_args()

    async def bounded() -> bool:
        async with asyncio.timeout(args.timeout):
            return await run(args.url, args.n)

    return 0 if asyncio.run(bounded()) else 1


if __name__ == "__main__":
    sys.exit(main())
