"""The same P1, P2 and P5 load against the peer, Centrifugo, for side-by-side ratios.

    bash bench/peer/centrifugo.sh install && bash bench/peer/centrifugo.sh start
    python bench/peer_scenarios.py P1 --pairs 50 --rate 1000 --seconds 8
    python bench/peer_scenarios.py P2 --members 1000 --messages 200 --rate 20
    python bench/peer_scenarios.py P5 --workers 32 --seconds 8

P1 maps to personal channels: each receiver subscribes to ``personal:<user>``, each sender
publishes to it (a client-side publish answered by the server, our ``msg.ack``'s analogue).
P2 maps a group to one channel: N-1 connections (one user, ``personal:p2group``) subscribe,
one more connection publishes to it (counted with imfaas P2's ``FanoutTally``); no history,
so duplicates are counted by message number.
P5 is connect churn: token → WebSocket → connect reply. Centrifugo must run pinned to CPU 0
(its script does it); this generator pins itself to CPU 1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys
import time
from pathlib import Path

from bench_target import cpu_seconds as cpu
from fanout_members import FanoutTally
from latency_histogram import LatencyHistogram

sys.path.insert(0, str(Path(__file__).resolve().parent / "peer"))
from centrifugo_client import PeerConnection

RESULTS = Path(__file__).resolve().parent / "results"


def pids_of_centrifugo() -> list[int]:
    pidfile = Path("/tmp/imfaas-infra/centrifugo/pid")
    return [int(pidfile.read_text().strip())] if pidfile.exists() else []


async def p1(args: argparse.Namespace) -> dict:
    """Open-loop publishes at rate R over N pairs; publish-reply and delivery latency."""
    senders = [await PeerConnection.open(args.url, f"s{i}") for i in range(args.pairs)]
    receivers = [await PeerConnection.open(args.url, f"r{i}") for i in range(args.pairs)]
    ack_h, deliver_h = LatencyHistogram(), LatencyHistogram()
    delivered = {"n": 0}
    total = int(args.rate * args.seconds)

    async def read(conn: PeerConnection) -> None:
        while True:
            text, received_ns = await conn.messages.get()
            deliver_h.add(received_ns - int(text))
            delivered["n"] += 1

    async def publish(conn: PeerConnection, to: str, now: int) -> None:
        await conn.publish(to, str(now))
        ack_h.add(time.perf_counter_ns() - now)

    readers = [asyncio.create_task(read(c)) for c in receivers]
    inflight: set[asyncio.Task[None]] = set()
    pids = pids_of_centrifugo()
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    srv0, t0 = cpu(pids), time.perf_counter()
    for i in range(total):
        delay = t0 + i / args.rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        pair = i % args.pairs
        task = asyncio.create_task(publish(senders[pair], f"r{pair}", time.perf_counter_ns()))
        inflight.add(task)
        task.add_done_callback(inflight.discard)
    send_wall = time.perf_counter() - t0
    await asyncio.wait_for(asyncio.gather(*inflight, return_exceptions=True), 30)
    deadline = time.perf_counter() + 10
    while delivered["n"] < total and time.perf_counter() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    wall = time.perf_counter() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    srv1 = cpu(pids)
    for task in readers:
        task.cancel()
    for conn in senders + receivers:
        await conn.close()
    client = (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime)
    return {
        "pairs": args.pairs,
        "target rate msg/s": args.rate,
        "achieved send rate msg/s": round(total / send_wall, 1),
        "sent": total,
        "delivered": delivered["n"],
        "missing": total - delivered["n"],
        "ack p50 ms": ack_h.percentile_ms(50),
        "ack p99 ms": ack_h.percentile_ms(99),
        "deliver p50 ms": deliver_h.percentile_ms(50),
        "deliver p99 ms": deliver_h.percentile_ms(99),
        "deliver p99.9 ms": deliver_h.percentile_ms(99.9),
        "client CPU %": round(100 * client / wall, 1),
        "server CPU %": round(100 * (srv1 - srv0) / wall, 1),
        "server CPU ms per msg": round(1000 * (srv1 - srv0) / max(1, delivered["n"]), 3),
    }


async def p2(args: argparse.Namespace) -> dict:
    """One channel with N-1 subscribers, one publisher at rate R; time to the last member."""
    # Every subscriber connects as the same user, so all subscribe to personal:p2group.
    gate = asyncio.Semaphore(64)

    async def subscriber() -> PeerConnection:
        async with gate:
            return await PeerConnection.open(args.url, "p2group")

    sender = await PeerConnection.open(args.url, "p2sender")
    members = list(await asyncio.gather(*(subscriber() for _ in range(args.members - 1))))
    tally, ack_h = FanoutTally(args.messages, len(members)), LatencyHistogram()

    async def read(index: int, conn: PeerConnection) -> None:
        while True:
            text, received_ns = await conn.messages.get()
            # No history here, so no seq: a message is known by its number.
            tally.received(index, text.split()[0], text, received_ns)

    async def publish(i: int) -> None:
        text = tally.text(i)
        await sender.publish("p2group", text)
        ack_h.add(time.perf_counter_ns() - tally.send_ns[i])

    readers = [asyncio.create_task(read(i, c)) for i, c in enumerate(members)]
    inflight: set[asyncio.Task[None]] = set()
    pids = pids_of_centrifugo()
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    srv0, t0, t0_ns = cpu(pids), time.perf_counter(), time.perf_counter_ns()
    for i in range(args.messages):
        delay = t0 + i / args.rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(publish(i))
        inflight.add(task)
        task.add_done_callback(inflight.discard)
    send_wall = time.perf_counter() - t0
    await asyncio.wait_for(asyncio.gather(*inflight, return_exceptions=True), 30)
    await tally.drain()
    wall = time.perf_counter() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    srv1 = cpu(pids)
    for task in readers:
        task.cancel()
    for conn in [sender, *members]:
        await conn.close()
    client = (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime)
    return {
        "members": args.members,
        "target rate msg/s": args.rate,
        "achieved send rate msg/s": round(args.messages / send_wall, 1),
        "sent": args.messages,
        "ack p50 ms": ack_h.percentile_ms(50),
        "ack p99 ms": ack_h.percentile_ms(99),
        **tally.rows(t0_ns, client, srv1 - srv0, wall),
    }


async def p5(args: argparse.Namespace) -> dict:
    """Workers loop token → connect → subscribe reply → close."""
    hist, done = LatencyHistogram(), {"n": 0}
    stop_at = time.perf_counter() + args.seconds

    async def worker(i: int) -> None:
        while time.perf_counter() < stop_at:
            t0 = time.perf_counter_ns()
            conn = await PeerConnection.open(args.url, f"w{i}")
            hist.add(time.perf_counter_ns() - t0)
            done["n"] += 1
            await conn.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(args.workers)))
    wall = time.perf_counter() - t0
    return {
        "workers": args.workers,
        "connects/s": round(done["n"] / wall, 1),
        "connect p50 ms": hist.percentile_ms(50),
        "connect p99 ms": hist.percentile_ms(99),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("scenario", choices=["P1", "P2", "P5"])
    parser.add_argument("--url", default="ws://127.0.0.1:28000/connection/websocket")
    parser.add_argument("--pairs", type=int, default=50)
    parser.add_argument("--rate", type=float, help="msg/s (P1: 1000, P2: 20)")
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--workers", type=int, default=32)
    parser.add_argument("--members", type=int, default=1000, help="P2 channel size, sender too")
    parser.add_argument("--messages", type=int, default=200, help="P2 messages published")
    args = parser.parse_args()
    if args.rate is None:
        args.rate = 20 if args.scenario == "P2" else 1000
    os.sched_setaffinity(0, {1})
    rows = asyncio.run({"P1": p1, "P2": p2, "P5": p5}[args.scenario](args))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{args.scenario}-centrifugo.json").write_text(json.dumps(rows, indent=2))
    print(f"\n{args.scenario} on centrifugo")
    for key, value in rows.items():
        print(f"  {key:<28}  {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
