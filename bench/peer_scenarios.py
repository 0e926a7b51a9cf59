"""The same P1, P2, P3 and P5 load against the peer, Centrifugo, for side-by-side ratios.

    bash bench/peer/centrifugo.sh install && bash bench/peer/centrifugo.sh start
    python bench/peer_scenarios.py P1 --pairs 50 --rate 1000 --seconds 8
    python bench/peer_scenarios.py P2 --members 1000 --messages 200 --rate 20
    python bench/peer_scenarios.py P3 --sockets 2000 --seconds 10
    python bench/peer_scenarios.py P5 --workers 32 --seconds 8

P1 maps to personal channels: each receiver subscribes to ``personal:<user>``, each sender
publishes to it (a client-side publish answered by the server, our ``msg.ack``'s analogue).
P2 maps a group to one channel: N-1 connections (one user, ``personal:p2group``) subscribe,
one more connection publishes to it (counted with imfaas P2's ``FanoutTally``); no history,
so duplicates are counted by message number.
P3 holds N idle connections (as imfaas's P3: one user per 100 of them, each connection
subscribed to its user's channel) that Centrifugo pings every ``--heartbeat`` seconds, and
reads the server's RSS per connection and CPU. The ping interval is a server-wide setting, so
P3 runs its own instance (port 28001, started and stopped by this script unless it is already
running) and ignores ``--url``; the one P1, P2 and P5 use keeps Centrifugo's default 25 s.
P5 is connect churn: token → WebSocket → connect reply. Centrifugo must run pinned to CPU 0
(its script does it); this generator pins itself to CPU 1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from bench_target import cpu_seconds as cpu
from bench_target import rss_bytes
from fanout_members import FanoutTally
from imfaas_scenarios import idle_rows, report
from latency_histogram import LatencyHistogram

sys.path.insert(0, str(Path(__file__).resolve().parent / "peer"))
from centrifugo_client import PeerConnection

PEER_SCRIPT = Path(__file__).resolve().parent / "peer" / "centrifugo.sh"
# The instance P1, P2 and P5 use (centrifugo.sh's defaults) and P3's own; see p3_centrifugo.
SHARED_RUN = Path("/tmp/imfaas-infra")
P3_RUN, P3_PORT = Path("/tmp/imfaas-infra/peer-p3"), 28001


def pids_of_centrifugo(run: Path = SHARED_RUN) -> list[int]:
    pidfile = run / "centrifugo" / "pid"
    return [int(pidfile.read_text().strip())] if pidfile.exists() else []


@contextlib.contextmanager
def p3_centrifugo(heartbeat: float) -> Iterator[str]:
    """P3's Centrifugo, pinging every ``heartbeat`` s; yields its WebSocket URL.

    Its own instance, because the ping interval is one setting for the whole server: the
    shared one on port 28000 keeps the default 25 s, so P1, P2 and P5 measure what they did
    (and someone's CPU benchmark on it is not disturbed by a restart). An instance already
    running is used and left running; one started here is stopped here.
    """
    ping = f"{heartbeat:g}s"
    env = {
        **os.environ,
        "IMFAAS_INFRA_RUN": str(P3_RUN),
        "IMFAAS_PEER_PORT": str(P3_PORT),
        "CENTRIFUGO_PING_INTERVAL": ping,
        # Centrifugo requires pong_timeout < ping_interval; the value only moves the check.
        "CENTRIFUGO_PONG_TIMEOUT": f"{heartbeat / 2:g}s",
    }

    def script(command: str) -> int:
        return subprocess.run(["bash", str(PEER_SCRIPT), command], env=env).returncode

    already_running = script("status") == 0
    if already_running:
        config = json.loads((P3_RUN / "centrifugo" / "config.json").read_text())
        running_ping = config["client"].get("ping_interval")
        if running_ping != ping:
            raise SystemExit(f"P3's Centrifugo runs with ping_interval {running_ping}, not {ping}")
    elif script("start") != 0:
        raise SystemExit("could not start P3's Centrifugo")
    try:
        yield f"ws://127.0.0.1:{P3_PORT}/connection/websocket"
    finally:
        if not already_running:
            script("stop")


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


async def p3(args: argparse.Namespace) -> dict:
    """N idle connections, each pinged by the server every --heartbeat s; its RSS and CPU."""
    pid = pids_of_centrifugo(P3_RUN)[0]
    # As imfaas's P3 (one account per 100 sockets), so both servers hold as many users and
    # channels per connection.
    users = max(1, args.sockets // 100)
    # One connection first, closed again, as imfaas's P3 does: one-time set-up is no
    # connection's cost.
    warm = await PeerConnection.open(args.url, "p3u0")
    await warm.close()
    await asyncio.sleep(1)
    rss0 = rss_bytes(pid)
    gate = asyncio.Semaphore(64)

    async def one(i: int) -> PeerConnection:
        async with gate:
            return await PeerConnection.open(args.url, f"p3u{i % users}")

    conns = await asyncio.gather(*(one(i) for i in range(args.sockets)))
    await asyncio.sleep(2)
    rss1 = rss_bytes(pid)
    # The server sends the pings (the first at a random point in the first interval, so they
    # are spread out); the client answers each and counts it.
    pings0, cpu0, t0 = sum(c.pings for c in conns), cpu([pid]), time.perf_counter()
    await asyncio.sleep(args.seconds)
    cpu1, wall = cpu([pid]), time.perf_counter() - t0
    beats = sum(c.pings for c in conns) - pings0
    lost = sum(c.closed for c in conns)  # a missed pong would have closed one (no_pong)
    for conn in conns:
        await conn.close()
    # The same rows as imfaas's P3, then ours.
    return {
        **idle_rows(args.sockets, rss0, rss1, beats, cpu1 - cpu0, wall),
        "users": users,
        "ping interval s": args.heartbeat,
        "sockets closed during the run": lost,
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
    parser.add_argument("scenario", choices=["P1", "P2", "P3", "P5"])
    parser.add_argument("--url", default="ws://127.0.0.1:28000/connection/websocket")
    parser.add_argument("--pairs", type=int, default=50)
    parser.add_argument("--rate", type=float, help="msg/s (P1: 1000, P2: 20)")
    parser.add_argument("--seconds", type=float, help="P3: 10 (as imfaas's), others: 8")
    parser.add_argument("--sockets", type=int, default=2000, help="P3 idle connections")
    parser.add_argument("--heartbeat", type=float, default=5.0, help="P3 ping interval, s")
    parser.add_argument("--workers", type=int, default=32)
    parser.add_argument("--members", type=int, default=1000, help="P2 channel size, sender too")
    parser.add_argument("--messages", type=int, default=200, help="P2 messages published")
    args = parser.parse_args()
    if args.rate is None:
        args.rate = 20 if args.scenario == "P2" else 1000
    if args.seconds is None:
        args.seconds = 10 if args.scenario == "P3" else 8
    os.sched_setaffinity(0, {1})
    if args.scenario == "P3":
        with p3_centrifugo(args.heartbeat) as url:
            args.url = url
            rows = asyncio.run(p3(args))
    else:
        rows = asyncio.run({"P1": p1, "P2": p2, "P5": p5}[args.scenario](args))
    report(args.scenario, "centrifugo", rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
