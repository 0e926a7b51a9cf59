"""Soak: idle authenticated sockets held with heartbeats, then a frame flood; leak check.

    python bench/soak.py     # issue size: 10,000 sockets, 600 s, 1,000,000 frames; ~15 min
    python bench/soak.py --sockets 500 --hold 30 --frames 20000 --warmup-frames 2000 \
        --settle 5 --quiet-wait 5     # quick check, about 1 min

One ``imfaas dev`` (``bench_target.py``, pinned to CPU 0; this generator on CPU 1):

* Phase A: open ``--sockets`` authenticated sockets (100 per user; ``2 × --pairs`` of them
  belong to one-socket sender/receiver users), warm up, then hold them for ``--hold``
  seconds. Every socket sends a ``ping`` every ``--heartbeat`` seconds (staggered) and every
  ``pong`` is checked off. Heartbeats go on until the sockets are closed.
* Phase B: ``--frames`` request frames, pipelined: ``--send-share`` of them ``msg.send``
  from each sender to its receiver (``--send-window`` in flight per sender; the receivers
  read every ``msg.new``), the rest ``ping`` over ``--flood-sockets`` sockets
  (``--ping-window`` in flight each). Then ``--settle`` seconds of heartbeats only.
* Finally every socket is closed and the server's fds and tasks must return to what they
  were before the sockets opened.

The server's RSS, open fds and threads (``/proc``) and its asyncio task count (``/healthz``)
are sampled every ``--sample-every`` seconds. RSS growth is measured from the warm baseline
(sockets open, one heartbeat round and ``--warmup-frames`` of the flood's mix done) to the
end (after the flood and the settle time, sockets still open). Prints a table, writes
``bench/results/soak-dev.json`` (summary) and ``soak-dev-samples.json`` (time series);
exits 1 when a check fails.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import os
import resource
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from bench_target import BenchTarget, cpu_seconds, rss_bytes
from imfaas_scenarios import RESULTS, client_cpu, report
from latency_histogram import LatencyHistogram
from protocol_load import Account, make_accounts, open_socket
from ws_libraries import cpu_ticks, wait_for_quiet

SOCKETS_PER_USER = 100
# Request ids and client_msg_ids, unique over the whole run: a msg.send that reused a
# client_msg_id would be a resend, acknowledged again without a new delivery.
_ids = itertools.count()


@dataclass(eq=False)
class Sock:
    """One client socket and its request window."""

    ws: aiohttp.ClientWebSocketResponse
    window: asyncio.Semaphore
    closed_by_server: int | None = None


@dataclass
class Tally:
    """What the readers saw, and what the senders are waiting for."""

    heartbeats: int = 0
    pongs: int = 0
    heartbeat_sent_at: dict[str, int] = field(default_factory=dict)
    heartbeat_rtt: LatencyHistogram = field(default_factory=LatencyHistogram)
    flood_pings: int = 0
    flood_pongs: int = 0
    last_pong_at: float = 0.0
    last_ack_at: float = 0.0
    flood_sends: int = 0
    acks: int = 0
    delivered: int = 0
    duplicates: int = 0
    # Error replies by code: to flood requests, and to anything else (heartbeats).
    flood_errors: dict[str, int] = field(default_factory=dict)
    other_errors: dict[str, int] = field(default_factory=dict)
    seen: set[tuple[str, int]] = field(default_factory=set)

    def flood_replies(self) -> int:
        return self.flood_pongs + self.acks + sum(self.flood_errors.values())


@dataclass
class Sample:
    """The server process at one moment."""

    t: float
    phase: str
    rss_mb: float
    fds: int
    threads: int
    tasks: int
    connections: int
    cpu_s: float


class ServerProbe:
    """Reads the server's /proc entries and /healthz."""

    def __init__(self, target: BenchTarget) -> None:
        self.target = target
        self.pid = target.gateway_pid()
        self.t0 = time.monotonic()
        self.samples: list[Sample] = []

    def open_files_limit(self) -> int:
        for line in Path(f"/proc/{self.pid}/limits").read_text().splitlines():
            if line.startswith("Max open files"):
                return int(line.split()[3])
        raise RuntimeError("no open files limit in /proc")

    async def sample(self, phase: str) -> Sample:
        """Record the server's state now, labelled with ``phase``."""
        sample = await asyncio.to_thread(self._read, phase)
        self.samples.append(sample)
        return sample

    def _read(self, phase: str) -> Sample:
        health = self._healthz()
        status = Path(f"/proc/{self.pid}/status").read_text().splitlines()
        threads = next(int(line.split()[1]) for line in status if line.startswith("Threads:"))
        return Sample(
            t=round(time.monotonic() - self.t0, 1),
            phase=phase,
            rss_mb=round(rss_bytes(self.pid) / 2**20, 2),
            fds=len(os.listdir(f"/proc/{self.pid}/fd")),
            threads=threads,
            tasks=health["tasks"],
            connections=health["connections"],
            cpu_s=round(cpu_seconds([self.pid]), 2),
        )

    def _healthz(self) -> dict:
        # A fresh connection each time (urllib closes it), so polling holds no server fd.
        with urllib.request.urlopen(self.target.url + "/healthz", timeout=30) as response:
            return json.loads(response.read())

    async def every(self, seconds: float, phase: dict[str, str]) -> None:
        while True:
            await asyncio.sleep(seconds)
            await self.sample(phase["now"])


async def read(sock: Sock, tally: Tally) -> None:
    """Check off every reply and event on one socket."""
    async for msg in sock.ws:
        if msg.type is not aiohttp.WSMsgType.TEXT:
            break
        frame = json.loads(msg.data)
        kind, request_id = frame.get("type"), frame.get("id", "")
        if kind == "pong" and request_id.startswith("h"):
            sent_at = tally.heartbeat_sent_at.pop(request_id, None)
            if sent_at is not None:
                tally.pongs += 1
                tally.heartbeat_rtt.add(time.perf_counter_ns() - sent_at)
        elif kind == "pong":
            tally.flood_pongs += 1
            tally.last_pong_at = time.perf_counter()
            sock.window.release()
        elif kind == "msg.ack":
            tally.acks += 1
            tally.last_ack_at = time.perf_counter()
            sock.window.release()
        elif kind == "msg.new":
            message = frame["message"]
            key = (message["conversation"], message["seq"])
            if key in tally.seen:
                tally.duplicates += 1
            else:
                tally.seen.add(key)
                tally.delivered += 1
        elif kind == "error":
            code = frame.get("code", "?")
            flood_request = request_id.startswith(("f", "s"))
            errors = tally.flood_errors if flood_request else tally.other_errors
            errors[code] = errors.get(code, 0) + 1
            if flood_request:
                sock.window.release()
    if sock.ws.close_code is not None:
        sock.closed_by_server = sock.ws.close_code


async def heartbeat(socks: list[Sock], tally: Tally, every: float) -> None:
    """Each socket pings about every ``every`` seconds, spread evenly over that time."""
    tick, cursor = 0.2, 0
    while True:
        await asyncio.sleep(tick)
        if not socks:
            continue
        for _ in range(math.ceil(len(socks) * tick / every)):
            sock = socks[cursor % len(socks)]
            cursor += 1
            if sock.ws.closed:
                continue
            request_id = f"h{next(_ids)}"
            tally.heartbeat_sent_at[request_id] = time.perf_counter_ns()
            tally.heartbeats += 1
            await sock.ws.send_str(json.dumps({"type": "ping", "id": request_id}))


async def flood(
    pingers: list[Sock],
    senders: list[tuple[Sock, Account]],
    tally: Tally,
    pings: int,
    sends: int,
) -> None:
    """``pings`` pings and ``sends`` msg.send, each socket keeping its window full."""
    left = {"pings": pings, "sends": sends}

    async def send(sock: Sock, frame: dict) -> bool:
        await sock.window.acquire()
        if sock.ws.closed:
            return False  # closed by the server: counted there, not retried here
        await sock.ws.send_str(json.dumps(frame))
        # send_str rarely suspends: yield so every socket gets its turn, not the first few.
        await asyncio.sleep(0)
        return True

    async def pinger(sock: Sock) -> None:
        while left["pings"] > 0:
            left["pings"] -= 1
            if not await send(sock, {"type": "ping", "id": f"f{next(_ids)}"}):
                return
            tally.flood_pings += 1

    async def sender(sock: Sock, to: Account) -> None:
        while left["sends"] > 0:
            left["sends"] -= 1
            n = next(_ids)
            frame = {
                "type": "msg.send",
                "id": f"s{n}",
                "to": to.user_id,
                "client_msg_id": f"c{n}",
                "content": {"kind": "text", "text": "soak " * 8},
            }
            if not await send(sock, frame):
                return
            tally.flood_sends += 1

    await asyncio.gather(*(pinger(s) for s in pingers), *(sender(s, to) for s, to in senders))


async def until(condition: Callable[[], bool], seconds: float) -> bool:
    """Poll ``condition`` every 0.1 s for up to ``seconds``."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.1)
    return True


class CpuUsage:
    """CPU used since construction by the server, this process and everything else."""

    def __init__(self, server_pid: int) -> None:
        self.pid = server_pid
        self.t0 = time.perf_counter()
        self.start = (cpu_seconds([server_pid]), client_cpu(), cpu_ticks())

    def percent(self) -> tuple[float, float, float, float]:
        """Server, client and other load in % of one core, and the seconds elapsed."""
        wall = time.perf_counter() - self.t0
        server = cpu_seconds([self.pid]) - self.start[0]
        client = client_cpu() - self.start[1]
        ticks, ticks0 = cpu_ticks(), self.start[2]
        busy = sum(ticks[c][0] - ticks0[c][0] for c in ticks if c in ticks0)
        other = max(0.0, busy / os.sysconf("SC_CLK_TCK") - server - client)
        return (
            round(100 * server / wall, 1),
            round(100 * client / wall, 1),
            round(100 * other / wall, 1),
            wall,
        )


class Soak:
    """One soak run against a started target: phase A, phase B, close, summary."""

    def __init__(self, target: BenchTarget, args: argparse.Namespace) -> None:
        self.args = args
        self.target = target
        self.probe = ServerProbe(target)
        self.tally = Tally()
        self.socks: list[Sock] = []
        self.readers: list[asyncio.Task[None]] = []
        self.marks: dict[str, Sample] = {}
        self.phase = {"now": "start"}
        self.rows: dict = {}

    async def mark(self, name: str) -> Sample:
        self.marks[name] = await self.probe.sample(name)
        return self.marks[name]

    async def run(self) -> dict:
        """Every phase; the summary rows."""
        args, tally = self.args, self.tally
        limit = self.probe.open_files_limit()
        if limit < args.sockets + 500:
            raise SystemExit(f"server open files limit {limit} is too low")
        self.rows["machine busy % at start"] = round(
            await asyncio.to_thread(wait_for_quiet, args.quiet_wait), 1
        )
        idle_users = max(1, math.ceil((args.sockets - 2 * args.pairs) / SOCKETS_PER_USER))
        async with aiohttp.ClientSession() as http:
            accounts = await make_accounts(http, self.target.url, idle_users + 2 * args.pairs)
        await asyncio.sleep(2)
        await self.mark("idle server")
        sampler = asyncio.create_task(self.probe.every(args.sample_every, self.phase))
        beats = asyncio.create_task(heartbeat(self.socks, tally, args.heartbeat))
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as http:
            try:
                await self.phases(http, accounts)
            finally:
                beats.cancel()
                await self.close_all()
        await self.drained()
        sampler.cancel()
        return self.summary()

    async def phases(self, http: aiohttp.ClientSession, accounts: list[Account]) -> None:
        args, tally, pairs = self.args, self.tally, self.args.pairs
        gate = asyncio.Semaphore(64)

        async def connect(account: Account, window: int) -> Sock:
            async with gate:
                sock = Sock(await open_socket(http, account), asyncio.Semaphore(window))
            self.socks.append(sock)
            self.readers.append(asyncio.create_task(read(sock, tally)))
            return sock

        self.phase["now"] = "opening"
        t0 = time.perf_counter()
        senders = [await connect(a, args.send_window) for a in accounts[:pairs]]
        receivers = accounts[pairs : 2 * pairs]
        for account in receivers:
            await connect(account, 1)
        idle_accounts = accounts[2 * pairs :]
        idle = await asyncio.gather(
            *(
                connect(idle_accounts[i // SOCKETS_PER_USER], args.ping_window)
                for i in range(args.sockets - 2 * pairs)
            )
        )
        self.rows["sockets opened per s"] = round(args.sockets / (time.perf_counter() - t0), 1)
        await self.mark("sockets open")

        # Warm-up: a full heartbeat round, then a small flood of the same mix.
        self.phase["now"] = "warm-up"
        pingers = list(idle[: args.flood_sockets])
        sender_pairs = list(zip(senders, receivers, strict=True))
        await asyncio.sleep(args.heartbeat)
        warm_sends = round(args.warmup_frames * args.send_share)
        await flood(pingers, sender_pairs, tally, args.warmup_frames - warm_sends, warm_sends)
        await until(lambda: tally.flood_replies() == tally.flood_pings + tally.flood_sends, 60)
        await until(lambda: tally.delivered >= tally.acks, 30)
        await asyncio.sleep(5)
        await self.mark("warm baseline")

        self.phase["now"] = "hold"
        usage, beats0 = CpuUsage(self.probe.pid), tally.heartbeats
        await asyncio.sleep(args.hold)
        server, _, other, wall = usage.percent()
        self.rows["heartbeats/s during hold"] = round((tally.heartbeats - beats0) / wall, 1)
        self.rows["server CPU % during hold"] = server
        self.rows["other load CPU % during hold"] = other
        await self.mark("after hold")

        self.phase["now"] = "flood"
        pings0, sends0, delivered0 = tally.flood_pings, tally.flood_sends, tally.delivered
        sends = round(args.frames * args.send_share)
        usage = CpuUsage(self.probe.pid)
        t0 = usage.t0
        await flood(pingers, sender_pairs, tally, args.frames - sends, sends)
        await until(lambda: tally.flood_replies() == tally.flood_pings + tally.flood_sends, 120)
        server, client, other, wall = usage.percent()
        await until(lambda: tally.delivered - delivered0 >= tally.flood_sends - sends0, 60)
        frames = tally.flood_pings - pings0 + tally.flood_sends - sends0
        self.rows |= {
            "flood frames": frames,
            "flood pings": tally.flood_pings - pings0,
            "flood msg.send": tally.flood_sends - sends0,
            "msg.new delivered in flood": tally.delivered - delivered0,
            "flood s": round(wall, 1),
            "flood frames/s": round(frames / wall, 1),
            "flood pings/s (until the last pong)": round(
                (tally.flood_pings - pings0) / (tally.last_pong_at - t0), 1
            ),
            "flood msg.send/s (until the last ack)": round(
                (tally.flood_sends - sends0) / max(1e-9, tally.last_ack_at - t0), 1
            ),
            "flood server CPU %": server,
            "flood client CPU %": client,
            "other load CPU % during flood": other,
        }
        await self.mark("after flood")

        self.phase["now"] = "settle"
        await asyncio.sleep(args.settle)
        await self.mark("settled")

    async def close_all(self) -> None:
        """Let the last heartbeats be answered, then close every socket from this side."""
        tally = self.tally
        await until(lambda: not tally.heartbeat_sent_at, 10)
        self.rows["missing pongs"] = len(tally.heartbeat_sent_at)
        self.phase["now"] = "closing"
        for task in self.readers:
            task.cancel()
        await asyncio.gather(*self.readers, return_exceptions=True)
        gate = asyncio.Semaphore(256)

        async def close(sock: Sock) -> None:
            async with gate:
                await sock.ws.close()

        await asyncio.gather(*(close(s) for s in self.socks))

    async def drained(self) -> None:
        """Wait up to 60 s for the server to be back at its fd and task counts."""
        baseline = self.marks["idle server"]
        deadline = time.monotonic() + 60
        while True:
            now = await self.mark("sockets closed")
            back = now.fds <= baseline.fds and now.tasks <= baseline.tasks
            if (now.connections == 0 and back) or time.monotonic() > deadline:
                return
            await asyncio.sleep(1)

    def summary(self) -> dict:
        args, tally, marks = self.args, self.tally, self.marks
        idle, warm, end = marks["idle server"], marks["warm baseline"], marks["settled"]
        closed = marks["sockets closed"]
        codes: dict[str, int] = {}
        for sock in self.socks:
            if sock.closed_by_server is not None:
                codes[str(sock.closed_by_server)] = codes.get(str(sock.closed_by_server), 0) + 1

        def growth(sample: Sample) -> float:
            return round(100 * (sample.rss_mb - warm.rss_mb) / warm.rss_mb, 2)

        rows = {
            "sockets": args.sockets,
            "hold s": args.hold,
            "heartbeat every s": args.heartbeat,
            "heartbeats sent": tally.heartbeats,
            "heartbeat RTT p50 ms": round(tally.heartbeat_rtt.percentile_ms(50), 2),
            "heartbeat RTT p99 ms": round(tally.heartbeat_rtt.percentile_ms(99), 2),
            **self.rows,
            "flood replies missing": tally.flood_pings + tally.flood_sends - tally.flood_replies(),
            "flood errors": dict(tally.flood_errors),
            "other errors": dict(tally.other_errors),
            "msg.new duplicates": tally.duplicates,
            "sockets closed by the server (by code)": codes,
            "RSS idle server MB": idle.rss_mb,
            "RSS warm baseline MB": warm.rss_mb,
            "RSS after hold MB": marks["after hold"].rss_mb,
            "RSS after flood MB": marks["after flood"].rss_mb,
            "RSS settled MB": end.rss_mb,
            "RSS sockets closed MB": closed.rss_mb,
            "RSS per socket KB": round(
                (warm.rss_mb - idle.rss_mb) * 1024 / max(1, args.sockets), 1
            ),
            "RSS growth during hold %": growth(marks["after hold"]),
            "RSS growth warm→settled MB": round(end.rss_mb - warm.rss_mb, 2),
            "RSS growth warm→settled %": growth(end),
            "fds idle / open / closed": f"{idle.fds} / {warm.fds} / {closed.fds}",
            "tasks idle / open / closed": f"{idle.tasks} / {warm.tasks} / {closed.tasks}",
            "threads idle / open / closed": f"{idle.threads} / {warm.threads} / {closed.threads}",
        }
        rows["checks"] = checks(rows, idle, closed)
        return rows


def checks(rows: dict, idle: Sample, closed: Sample) -> dict[str, bool]:
    """The issue's pass conditions."""
    return {
        "RSS growth < 5 %": rows["RSS growth warm→settled %"] < 5,
        "no missing pong": rows["missing pongs"] == 0,
        "no socket closed by the server": not rows["sockets closed by the server (by code)"],
        "every flood frame answered": rows["flood replies missing"] == 0
        and not rows["flood errors"]
        and not rows["other errors"],
        "every message delivered once": rows["msg.new delivered in flood"] == rows["flood msg.send"]
        and rows["msg.new duplicates"] == 0,
        "fds back to baseline": closed.fds <= idle.fds,
        "tasks back to baseline": closed.tasks <= idle.tasks,
    }


def print_phases(marks: dict[str, Sample]) -> None:
    header = ("t s", "RSS MB", "fds", "threads", "tasks", "conns")
    print("\n" + f"{'phase':<16}" + "".join(f"{h:>9}" for h in header))
    for name, s in marks.items():
        print(
            f"{name:<16}{s.t:>9}{s.rss_mb:>9.1f}{s.fds:>9}{s.threads:>9}"
            f"{s.tasks:>9}{s.connections:>9}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sockets", type=int, default=10_000)
    parser.add_argument("--hold", type=float, default=600, help="seconds")
    parser.add_argument("--heartbeat", type=float, default=20, help="seconds between pings")
    parser.add_argument("--frames", type=int, default=1_000_000)
    parser.add_argument("--send-share", type=float, default=0.02)
    parser.add_argument("--pairs", type=int, default=50)
    parser.add_argument("--send-window", type=int, default=16)
    parser.add_argument("--flood-sockets", type=int, default=1000)
    parser.add_argument("--ping-window", type=int, default=4)
    parser.add_argument("--warmup-frames", type=int, default=20_000)
    parser.add_argument("--settle", type=float, default=30, help="seconds")
    parser.add_argument("--sample-every", type=float, default=5, help="seconds")
    parser.add_argument(
        "--quiet-wait", type=float, default=60, help="max seconds to wait for an idle machine"
    )
    args = parser.parse_args()
    os.sched_setaffinity(0, {1})
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < args.sockets + 500:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, args.sockets + 1000), hard))
    with tempfile.TemporaryDirectory() as tmp:
        target = BenchTarget("dev", Path(tmp) / "data")
        # Caps for sockets per node and per address, if this version has them: all from here.
        target.env["IMFAAS_MAX_CONNECTIONS"] = str(2 * args.sockets)
        target.env["IMFAAS_MAX_CONNECTIONS_PER_IP"] = str(2 * args.sockets)
        # No per-user frame-type limits (msg.send is 20/s per user by default).
        target.env["IMFAAS_FRAME_RATES"] = ""
        target.start()
        try:
            run = Soak(target, args)
            rows = asyncio.run(run.run())
        finally:
            target.stop()
    print_phases(run.marks)
    report("soak", "dev", rows)
    (RESULTS / "soak-dev-samples.json").write_text(
        json.dumps([s.__dict__ for s in run.probe.samples], indent=1)
    )
    return 0 if all(rows["checks"].values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
