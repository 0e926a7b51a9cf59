"""Small-text-frame throughput of WebSocket server libraries, one server process each.

What it measures
    For every (library, event loop) pair -- aiohttp ``web.WebSocketResponse(autoping=False)``,
    picows ``ws_create_server`` and websockets ``websockets.asyncio.server.serve``, each under
    asyncio's default loop and under uvloop -- one server process answers request/response
    traffic shaped like the gateway's ping path: every text frame is parsed with
    ``json.loads`` and answered with ``json.dumps({"type": "pong", "id": ...})``.
    Requests alternate between a ~30-byte ``ping`` frame and a 250-byte ``msg.new``-shaped
    frame.

How
    The server runs in a subprocess pinned to CPU 0 and listens on 127.0.0.1 (free port).
    This process pins itself to CPU 1 and drives the server with the same client for every
    case: picows under uvloop, ``--connections`` sockets, each keeping up to 32 requests in
    flight (pipelined). After a warm-up it measures, over ``--frames`` frames per connection
    or ``--seconds`` seconds (whichever ends first):

    * replies per second,
    * p50 / p99 round-trip latency (per-request timestamps, sorted list),
    * server CPU time per 1k frames and server/client CPU use (``/proc/<pid>/stat`` for the
      server, ``time.process_time`` for the client; a client near 100 % means the figure
      is a lower bound for that server),
    * how often the server blocked waiting for input ("srv waits/s", voluntary context
      switches; near 0 means the server always had work, i.e. it was the bottleneck).

    Each case runs ``--rounds`` times, rounds interleaved, each after a short wait for an idle
    machine. The table shows the fastest round (load from other processes only ever slows a
    round down) with its latency and CPU figures, plus the median over rounds; "other CPU"
    is busy time on the two cores charged to neither process (loopback softirq, other load).
    ``bench/results/ws_libraries.json`` gets every round. Subprocesses are always killed.

Run
    python bench/ws_libraries.py [--connections 50] [--frames 20000] [--seconds 5] [--rounds 3]

    ``--frames`` is per connection and round; a round ends after that many frames or
    ``--seconds``, whichever comes first (at the defaults, the seconds cap).
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import ctypes
import datetime
import json
import os
import platform
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import asdict, dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

LIBRARIES = ("aiohttp", "picows", "websockets")
LOOPS = ("asyncio", "uvloop")
WINDOW = 32  # requests in flight per connection
RING = 64  # precomputed (request, reply) pairs per connection; must exceed WINDOW
MSG_NEW_BYTES = 250
SERVER_CPU = 0
CLIENT_CPU = 1
START_TIMEOUT_S = 10.0
CASE_TIMEOUT_S = 20.0
PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
RESULTS = Path(__file__).resolve().parent / "results" / "ws_libraries.json"

_children: set[subprocess.Popen[bytes]] = set()


# -- frames ----------------------------------------------------------------------------


def reply_text(request: str | bytes) -> str:
    """The server's work per frame: parse the request, build the pong."""
    return json.dumps({"type": "pong", "id": json.loads(request)["id"]})


def ping_frame(request_id: str) -> bytes:
    return json.dumps({"type": "ping", "id": request_id}, separators=(",", ":")).encode()


def msg_new_frame(request_id: str, size: int = MSG_NEW_BYTES) -> bytes:
    """A ``msg.new``-shaped frame (plus an ``id`` to echo) padded to exactly ``size`` bytes."""
    frame: dict[str, Any] = {
        "type": "msg.new",
        "id": request_id,
        "message": {
            "conversation": "d:u_7f3a9c2e:u_b81d04aa",
            "seq": 4182,
            "msg_id": "m_01JDX4Q8ZK3T",
            "sender": "u_7f3a9c2e",
            "sender_device": "dev_ios_4c1f",
            "client_msg_id": "cm_9d2e61",
            "ts": 1795689600123,
            "content": {"kind": "text", "text": ""},
        },
    }
    bare = len(json.dumps(frame, separators=(",", ":")).encode())
    frame["message"]["content"]["text"] = "x" * max(0, size - bare)
    return json.dumps(frame, separators=(",", ":")).encode()


def request_ring(conn_index: int) -> list[tuple[bytes, bytes]]:
    """(request, expected reply) pairs for one connection, alternating ping and msg.new."""
    ring = []
    for slot in range(RING):
        request_id = f"c{conn_index}-r{slot}"
        request = ping_frame(request_id) if slot % 2 == 0 else msg_new_frame(request_id)
        ring.append((request, reply_text(request).encode()))
    return ring


# -- servers (run in the pinned subprocess) ---------------------------------------------


def listening_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


async def serve_aiohttp(sock: socket.socket) -> None:
    from aiohttp import WSMsgType, web

    async def websocket(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=False)
        await ws.prepare(request)
        async for msg in ws:
            if msg.type is WSMsgType.TEXT:
                await ws.send_str(reply_text(msg.data))
        return ws

    app = web.Application()
    app.router.add_get("/ws", websocket)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    await asyncio.Event().wait()


async def serve_picows(sock: socket.socket) -> None:
    from picows import WSCloseCode, WSFrame, WSListener, WSMsgType, WSTransport, ws_create_server

    class PongListener(WSListener):
        def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
            if frame.msg_type == WSMsgType.TEXT:
                reply = reply_text(frame.get_payload_as_utf8_text())
                transport.send(WSMsgType.TEXT, reply.encode())
            elif frame.msg_type == WSMsgType.CLOSE:
                transport.send_close(WSCloseCode.OK)
                transport.disconnect()

    server = await ws_create_server(lambda _request: PongListener(), sock=sock)
    await server.serve_forever()


async def serve_websockets(sock: socket.socket) -> None:
    from websockets.asyncio.server import ServerConnection, serve

    async def handler(ws: ServerConnection) -> None:
        async for message in ws:
            await ws.send(reply_text(message))

    # No permessage-deflate (the picows client never offers it) and no keepalive pings.
    async with serve(handler, sock=sock, compression=None, ping_interval=None) as server:
        await server.serve_forever()


SERVERS: dict[str, Callable[[socket.socket], Coroutine[Any, Any, None]]] = {
    "aiohttp": serve_aiohttp,
    "picows": serve_picows,
    "websockets": serve_websockets,
}


def run_on_loop(loop: str, main: Coroutine[Any, Any, None]) -> None:
    if loop == "uvloop":
        import uvloop

        uvloop.run(main)
    else:
        asyncio.run(main)


def die_with_parent(parent_pid: int) -> None:
    """Have the kernel kill this process when the benchmark process dies, however it dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)


def server_main(library: str, loop: str, parent_pid: int) -> None:
    """Subprocess entry point: pin to CPU 0, listen, print the port, serve until killed."""
    die_with_parent(parent_pid)
    pin_to(SERVER_CPU)
    sock = listening_socket()
    print(f"PORT {sock.getsockname()[1]}", flush=True)
    run_on_loop(loop, SERVERS[library](sock))


# -- process helpers -----------------------------------------------------------------------


def pin_to(cpu: int) -> None:
    """Pin this process to one CPU (left unpinned on a single-CPU machine)."""
    if cpu < (os.cpu_count() or 1):
        os.sched_setaffinity(0, {cpu})


def proc_cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all threads) from /proc/<pid>/stat."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_server(library: str, loop: str) -> tuple[subprocess.Popen[bytes], int]:
    """Start one server subprocess and read the port it listens on."""
    cmd = [sys.executable, __file__, "--serve", library, "--loop", loop]
    cmd += ["--parent", str(os.getpid())]
    # stderr goes to a file, not a pipe nobody reads, so a chatty server can never block.
    with tempfile.TemporaryFile() as stderr:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=stderr)
        _children.add(proc)
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], START_TIMEOUT_S)
        line = proc.stdout.readline().decode() if ready else ""
        if not line.startswith("PORT "):
            stop_server(proc)
            stderr.seek(0)
            err = stderr.read().decode(errors="replace")[-2000:]
            raise RuntimeError(f"{library}/{loop} server did not start: {line!r}\n{err}")
    return proc, int(line.split()[1])


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=2)
    _children.discard(proc)


def kill_children() -> None:
    for proc in list(_children):
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        _children.discard(proc)


def exit_on_signal(signum: int, _frame: object) -> None:
    """SIGTERM/SIGINT: kill the servers first, then leave without unwinding the event loop."""
    kill_children()
    os._exit(128 + signum)


# -- client (this process, uvloop, picows) -------------------------------------------------


@dataclass
class RunState:
    """Counters shared by every client connection of one case."""

    replies: int = 0
    errors: int = 0
    measuring: bool = False
    stopping: bool = False
    latencies: list[float] = field(default_factory=list)


def make_listener_factory(state: RunState, ring: list[tuple[bytes, bytes]]) -> Callable[[], Any]:
    from picows import WSFrame, WSListener, WSMsgType, WSTransport

    perf_counter = time.perf_counter
    text = WSMsgType.TEXT
    mask = RING - 1

    class PipelineClient(WSListener):
        """Keeps WINDOW requests in flight; replies arrive in order, so a FIFO of send times
        gives each request's round trip."""

        def __init__(self) -> None:
            self.transport: WSTransport | None = None
            self.sent = 0
            self.received = 0
            self.sent_at: deque[float] = deque()

        def on_ws_connected(self, transport: WSTransport) -> None:
            self.transport = transport
            for _ in range(WINDOW):
                self.send_next()

        def send_next(self) -> None:
            assert self.transport is not None
            self.sent_at.append(perf_counter())
            self.transport.send(text, ring[self.sent & mask][0])
            self.sent += 1

        def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
            if frame.msg_type != text:
                return
            now = perf_counter()
            started = self.sent_at.popleft()
            if frame.get_payload_as_bytes() != ring[self.received & mask][1]:
                state.errors += 1
            self.received += 1
            state.replies += 1
            if state.measuring:
                state.latencies.append(now - started)
            if not state.stopping:
                self.send_next()

    return PipelineClient


def cpu_ticks() -> dict[int, tuple[int, int]]:
    """(busy, total) jiffies per CPU from /proc/stat; busy includes irq, softirq and steal."""
    ticks = {}
    for line in Path("/proc/stat").read_text().splitlines():
        name, *values = line.split()
        if name.startswith("cpu") and name != "cpu":
            numbers = [int(v) for v in values[:8]]
            idle = numbers[3] + numbers[4]  # idle + iowait
            ticks[int(name[3:])] = (sum(numbers) - idle, sum(numbers))
    return ticks


def voluntary_switches(pid: int) -> int:
    """How often a process blocked (for a single-threaded event loop: waited for I/O)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("voluntary_ctxt_switches:"):
            return int(line.split()[1])
    return 0


@dataclass
class Window:
    """Counters at the start or end of the measured window."""

    wall: float
    replies: int
    server_cpu: float
    server_sleeps: int
    client_cpu: float
    cpus: dict[int, tuple[int, int]]

    @classmethod
    def now(cls, state: RunState, server_pid: int) -> Window:
        return cls(
            wall=time.perf_counter(),
            replies=state.replies,
            server_cpu=proc_cpu_seconds(server_pid),
            server_sleeps=voluntary_switches(server_pid),
            client_cpu=time.process_time(),
            cpus=cpu_ticks(),
        )


@dataclass
class CaseResult:
    """One measured window of one (library, loop) case."""

    library: str
    loop: str
    round: int
    replies_per_s: float
    p50_ms: float
    p99_ms: float
    server_cpu_ms_per_1k: float
    server_cpu_pct: float
    client_cpu_pct: float
    cpu0_busy_pct: float
    cpu1_busy_pct: float
    other_cpu_pct: float
    server_sleeps_per_s: float
    replies: int
    seconds: float
    errors: int
    ended_by: str


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def busy_pct(start: Window, end: Window, cpu: int) -> float:
    if cpu not in start.cpus or cpu not in end.cpus:
        return float("nan")
    busy = end.cpus[cpu][0] - start.cpus[cpu][0]
    total = end.cpus[cpu][1] - start.cpus[cpu][1]
    return 100 * busy / total if total else float("nan")


def other_pct(start: Window, end: Window, seconds: float) -> float:
    """CPU busy on both cores that neither the server nor the client process was charged
    for (softirq of loopback traffic, and any other load on the machine), in % of one core."""
    hz = os.sysconf("SC_CLK_TCK")
    busy = sum(end.cpus[c][0] - start.cpus[c][0] for c in end.cpus if c in start.cpus) / hz
    ours = (end.server_cpu - start.server_cpu) + (end.client_cpu - start.client_cpu)
    return 100 * max(0.0, busy - ours) / seconds


def wait_for_quiet(max_wait_s: float, threshold_pct: float = 15.0) -> float:
    """Wait (bounded) until the machine is nearly idle; returns the busy % last seen."""
    deadline = time.monotonic() + max_wait_s
    while True:
        before = cpu_ticks()
        time.sleep(0.3)
        after = cpu_ticks()
        busy = sum(after[c][0] - before[c][0] for c in after)
        total = sum(after[c][1] - before[c][1] for c in after)
        busy_pct_all = 100 * len(after) * busy / total if total else 0.0
        if busy_pct_all < threshold_pct or time.monotonic() >= deadline:
            return busy_pct_all


async def drive(
    port: int, server_pid: int, args: argparse.Namespace
) -> tuple[Window, Window, RunState, str]:
    """Connect, warm up, measure one window, disconnect."""
    from picows import WSCloseCode, ws_connect

    state = RunState()
    url = f"ws://127.0.0.1:{port}/ws"
    connections = await asyncio.gather(
        *(
            ws_connect(make_listener_factory(state, request_ring(i)), url)
            for i in range(args.connections)
        )
    )
    await asyncio.sleep(args.warmup)
    start = Window.now(state, server_pid)
    state.measuring = True
    target = start.replies + args.frames * args.connections
    deadline = start.wall + args.seconds
    while state.replies < target and time.perf_counter() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    state.measuring = False
    end = Window.now(state, server_pid)
    state.stopping = True
    ended_by = "frames" if state.replies >= target else "seconds"
    for transport, _ in connections:
        transport.send_close(WSCloseCode.OK)
        transport.disconnect()
    await asyncio.wait(
        [asyncio.ensure_future(t.wait_disconnected()) for t, _ in connections], timeout=2
    )
    return start, end, state, ended_by


def summarize(
    case: tuple[str, str, int], start: Window, end: Window, state: RunState, ended_by: str
) -> CaseResult:
    library, loop, round_ = case
    seconds = end.wall - start.wall
    replies = end.replies - start.replies
    server_cpu = end.server_cpu - start.server_cpu
    latencies = sorted(state.latencies)
    return CaseResult(
        library=library,
        loop=loop,
        round=round_,
        replies_per_s=replies / seconds,
        p50_ms=percentile(latencies, 0.50) * 1e3,
        p99_ms=percentile(latencies, 0.99) * 1e3,
        server_cpu_ms_per_1k=server_cpu * 1e3 / replies * 1e3 if replies else float("nan"),
        server_cpu_pct=100 * server_cpu / seconds,
        client_cpu_pct=100 * (end.client_cpu - start.client_cpu) / seconds,
        cpu0_busy_pct=busy_pct(start, end, SERVER_CPU),
        cpu1_busy_pct=busy_pct(start, end, CLIENT_CPU),
        other_cpu_pct=other_pct(start, end, seconds),
        server_sleeps_per_s=(end.server_sleeps - start.server_sleeps) / seconds,
        replies=replies,
        seconds=seconds,
        errors=state.errors,
        ended_by=ended_by,
    )


def run_case(library: str, loop: str, round_: int, args: argparse.Namespace) -> CaseResult:
    import uvloop

    proc, port = start_server(library, loop)
    try:

        async def bounded() -> tuple[Window, Window, RunState, str]:
            return await asyncio.wait_for(drive(port, proc.pid, args), CASE_TIMEOUT_S)

        start, end, state, ended_by = uvloop.run(bounded())
        return summarize((library, loop, round_), start, end, state, ended_by)
    finally:
        stop_server(proc)


def best_round(runs: list[CaseResult]) -> dict[str, Any]:
    """The fastest round of one case (other load only ever slows a round down), plus the
    median and minimum over all rounds."""
    ranked = sorted(runs, key=lambda r: r.replies_per_s)
    row = asdict(ranked[-1])
    row["median_replies_per_s"] = ranked[(len(ranked) - 1) // 2].replies_per_s
    row["min_replies_per_s"] = ranked[0].replies_per_s
    row["rounds"] = len(ranked)
    return row


# -- report ------------------------------------------------------------------------------------

COLUMNS = (
    ("library", "{:<10}", "library"),
    ("loop", "{:<7}", "loop"),
    ("best replies/s", "{:>9,.0f}", "replies_per_s"),
    ("median", "{:>9,.0f}", "median_replies_per_s"),
    ("p50 ms", "{:>6.1f}", "p50_ms"),
    ("p99 ms", "{:>6.1f}", "p99_ms"),
    ("srv ms CPU/1k", "{:>13.1f}", "server_cpu_ms_per_1k"),
    ("srv CPU", "{:>6.0f}%", "server_cpu_pct"),
    ("cli CPU", "{:>6.0f}%", "client_cpu_pct"),
    ("other CPU", "{:>6.0f}%", "other_cpu_pct"),
    ("srv waits/s", "{:>11,.0f}", "server_sleeps_per_s"),
    ("errors", "{:>6}", "errors"),
)


def format_table(rows: list[dict[str, Any]]) -> str:
    def cells(row: dict[str, Any]) -> list[str]:
        return [fmt.format(row[key]) for _, fmt, key in COLUMNS]

    body = [cells(row) for row in rows]
    widths = [max(len(name), *(len(r[i]) for r in body)) for i, (name, _, _) in enumerate(COLUMNS)]

    def join(values: list[str]) -> str:
        return " | ".join(
            v.ljust(w) if i < 2 else v.rjust(w)
            for i, (v, w) in enumerate(zip(values, widths, strict=True))
        )

    header = join([name for name, _, _ in COLUMNS])
    return "\n".join([header, "-" * len(header), *(join(r) for r in body)])


def metadata(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "python": platform.python_version(),
        "versions": {p: version(p) for p in ("aiohttp", "picows", "websockets", "uvloop")},
        "client": f"picows ws_connect under uvloop, pinned to CPU {CLIENT_CPU}",
        "server": f"one subprocess pinned to CPU {SERVER_CPU}",
        "connections": args.connections,
        "window_per_connection": WINDOW,
        "frames_per_connection": args.frames,
        "seconds_cap": args.seconds,
        "warmup_s": args.warmup,
        "rounds": args.rounds,
        "request_bytes": {"ping": len(ping_frame("c0-r0")), "msg.new": MSG_NEW_BYTES},
    }


def write_results(
    args: argparse.Namespace, rows: list[dict[str, Any]], runs: list[CaseResult]
) -> None:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    payload = {"meta": metadata(args), "best": rows, "runs": [asdict(r) for r in runs]}
    RESULTS.write_text(json.dumps(payload, indent=2) + "\n")


# -- entry point ------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--frames", type=int, default=20000, help="per connection and round")
    parser.add_argument("--seconds", type=float, default=5.0, help="cap on a measured window")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds first")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; best shown")
    parser.add_argument(
        "--quiet-wait", type=float, default=3.0, help="max seconds to wait for an idle machine"
    )
    parser.add_argument("--libraries", nargs="+", choices=LIBRARIES, default=list(LIBRARIES))
    parser.add_argument("--loops", nargs="+", choices=LOOPS, default=list(LOOPS))
    parser.add_argument("--serve", choices=LIBRARIES, help=argparse.SUPPRESS)
    parser.add_argument("--loop", choices=LOOPS, default="asyncio", help=argparse.SUPPRESS)
    parser.add_argument("--parent", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.warmup = min(args.warmup, 3.0)
    args.seconds = min(args.seconds, CASE_TIMEOUT_S - args.warmup - 5)
    return args


def run_all(args: argparse.Namespace) -> list[CaseResult]:
    """Every case once per round; rounds interleave so drift hits all cases alike."""
    runs = []
    cases = [(lib, loop) for lib in args.libraries for loop in args.loops]
    for round_ in range(1, args.rounds + 1):
        for library, loop in cases:
            busy = wait_for_quiet(args.quiet_wait)
            print(
                f"round {round_}: {library} / {loop} (machine {busy:.0f}% busy before)",
                file=sys.stderr,
                flush=True,
            )
            runs.append(run_case(library, loop, round_, args))
    return runs


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.serve:
        server_main(args.serve, args.loop, args.parent)
        return
    atexit.register(kill_children)
    signal.signal(signal.SIGTERM, exit_on_signal)
    signal.signal(signal.SIGINT, exit_on_signal)
    pin_to(CLIENT_CPU)
    runs = run_all(args)
    rows = [
        best_round([r for r in runs if (r.library, r.loop) == (lib, loop)])
        for lib in args.libraries
        for loop in args.loops
    ]
    print(format_table(rows))
    write_results(args, rows, runs)
    print(f"\nwrote {RESULTS}")


if __name__ == "__main__":
    main()
