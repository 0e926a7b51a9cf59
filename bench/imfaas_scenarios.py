"""Load scenarios against imfaas (``imfaas dev`` or the local cluster), speaking the protocol.

    python bench/imfaas_scenarios.py P1 --target dev --pairs 100 --rate 2000 --seconds 10
    python bench/imfaas_scenarios.py P2 --target dev --members 1000 --messages 200 --rate 20
    python bench/imfaas_scenarios.py P2 --target dev --members 1000 --procs 4 --client-cpus 1-4
    python bench/imfaas_scenarios.py P3 --target dev --sockets 2000
    python bench/imfaas_scenarios.py P4 --target dev --messages 10000
    python bench/imfaas_scenarios.py P5 --target dev --workers 32 --seconds 10
    python bench/imfaas_scenarios.py P5 --target dev --workers 32 --seconds 10 --mode connect
    python bench/imfaas_scenarios.py P6

Each prints a table and writes ``bench/results/<scenario>-<target>.json``. The server runs
pinned to CPU 0, this generator to CPU 1 (``--client-cpus``; see ``bench_target.py``). P1 and
P2 also show the server's CPU per process (on the cluster: each gateway, function and the
dispatcher) and, on the cluster, the backend servers' CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import aiohttp
from bench_target import REPO, BenchTarget, CpuUse, cpu_seconds, rss_bytes
from bench_target import own_cpu_seconds as client_cpu
from fanout_members import LocalMembers, MemberProcesses, MemberSide, parse_cpus
from latency_histogram import LatencyHistogram
from protocol_load import login, make_accounts, open_socket

from imfaas.local_ports import free_port_range

RESULTS = Path(__file__).resolve().parent / "results"


def _shown(value: object) -> str:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def print_table(title: str, table: dict[str, dict[str, object]]) -> None:
    """One row per name, one column per key of the rows (all rows have the same keys)."""
    if not table:
        print(f"\n  {title}: none found")
        return
    widths = {column: max(8, len(column)) for column in next(iter(table.values()))}
    width = max(len(title), *(len(name) + 2 for name in table))
    print(f"\n  {title:<{width}}" + "".join(f"  {c:>{w}}" for c, w in widths.items()))
    for name, row in table.items():
        cells = "".join(f"  {_shown(row[c]):>{w}}" for c, w in widths.items())
        print(f"    {name:<{width - 2}}{cells}")


def report(name: str, target: str, rows: dict) -> None:
    """Print the rows (dict values as tables after the rest) and write them as JSON."""
    RESULTS.mkdir(exist_ok=True)
    scalars = {k: v for k, v in rows.items() if not isinstance(v, dict)}
    width = max(len(k) for k in scalars)
    print(f"\n{name} on {target}")
    for key, value in scalars.items():
        print(f"  {key:<{width}}  {_shown(value)}")
    for key, value in rows.items():
        if isinstance(value, dict) and all(isinstance(row, dict) for row in value.values()):
            print_table(key, value)
        elif isinstance(value, dict):  # a flat mapping (the soak's checks): one line each
            print(f"\n  {key}")
            for label, item in value.items():
                print(f"    {label}: {_shown(item)}")
    (RESULTS / f"{name}-{target}.json").write_text(json.dumps(rows, indent=2))


def cpu_rows(
    target: BenchTarget,
    use: tuple[CpuUse, CpuUse],
    wall: float,
    units: int,
    per: str,
    scale: float,
) -> dict:
    """Where the server CPU went: a table by process and, on the cluster, the backends'.

    ``use`` is ``CpuSample.until``'s (server, backends); each table row has the process
    count, CPU seconds, % of one core over ``wall`` and CPU per unit (``scale`` × s / units,
    headed ``per``).
    """
    server, backends = use

    def table(by: CpuUse) -> dict[str, dict[str, object]]:
        busiest_first = sorted(by.by_name.items(), key=lambda item: -item[1])
        return {
            name: {
                "processes": by.processes[name],
                "CPU s": round(seconds, 3),
                "CPU %": round(100 * seconds / wall, 1),
                per: round(scale * seconds / max(1, units), 3),
            }
            for name, seconds in busiest_first
        }

    rows: dict = {"server CPU by process": table(server)}
    if server.exited:
        rows["server processes exited during the run (not counted)"] = server.exited
    if target.kind == "cluster":
        rows["backends CPU %"] = round(100 * backends.total / wall, 1)
        rows[f"backends CPU {per}"] = round(scale * backends.total / max(1, units), 3)
        rows["backends CPU by process"] = table(backends)
    return rows


async def p1_send_deliver(target: BenchTarget, args: argparse.Namespace) -> dict:
    """N pairs online, open-loop sends at rate R; ack and delivery latency, losses, dups."""
    async with aiohttp.ClientSession() as http:
        accounts = await make_accounts(http, target.url, 2 * args.pairs)
        senders, receivers = accounts[: args.pairs], accounts[args.pairs :]
        sender_ws = [await open_socket(http, a) for a in senders]
        receiver_ws = [await open_socket(http, a) for a in receivers]
        ack_h, deliver_h = LatencyHistogram(), LatencyHistogram()
        sent_at: dict[str, int] = {}
        seen: set[tuple[str, int]] = set()
        counts = {"acks": 0, "errors": 0, "delivered": 0, "duplicates": 0}
        all_delivered = asyncio.Event()
        total = int(args.rate * args.seconds)

        async def read_acks(ws: aiohttp.ClientWebSocketResponse) -> None:
            async for msg in ws:
                frame = json.loads(msg.data)
                if frame.get("type") == "msg.ack":
                    ack_h.add(time.perf_counter_ns() - sent_at[frame["id"]])
                    counts["acks"] += 1
                elif frame.get("type") == "error":
                    counts["errors"] += 1

        async def read_deliveries(ws: aiohttp.ClientWebSocketResponse) -> None:
            async for msg in ws:
                frame = json.loads(msg.data)
                if frame.get("type") != "msg.new":
                    continue
                message = frame["message"]
                key = (message["conversation"], message["seq"])
                if key in seen:
                    counts["duplicates"] += 1
                    continue
                seen.add(key)
                counts["delivered"] += 1
                deliver_h.add(time.perf_counter_ns() - int(message["content"]["text"]))
                if counts["delivered"] == total:
                    all_delivered.set()

        readers = [asyncio.create_task(read_acks(ws)) for ws in sender_ws]
        readers += [asyncio.create_task(read_deliveries(ws)) for ws in receiver_ws]
        cpu0, sample0, t0 = client_cpu(), target.cpu_sample(), time.perf_counter()
        for i in range(total):
            due = t0 + i / args.rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            pair = i % args.pairs
            now = time.perf_counter_ns()
            request_id = f"s{i}"
            sent_at[request_id] = now
            await sender_ws[pair].send_str(
                json.dumps(
                    {
                        "type": "msg.send",
                        "id": request_id,
                        "to": receivers[pair].user_id,
                        "client_msg_id": f"c{i}",
                        "content": {"kind": "text", "text": str(now)},
                    }
                )
            )
        send_wall = time.perf_counter() - t0
        try:
            await asyncio.wait_for(all_delivered.wait(), 10)
        except TimeoutError:
            pass  # counted as missing below
        wall = time.perf_counter() - t0
        cpu1, sample1 = client_cpu(), target.cpu_sample()
        for task in readers:
            task.cancel()
    use = sample0.until(sample1)
    server_s = use[0].total
    return {
        "pairs": args.pairs,
        "target rate msg/s": args.rate,
        "achieved send rate msg/s": round(total / send_wall, 1),
        "sent": total,
        "acked": counts["acks"],
        "errors": counts["errors"],
        "delivered": counts["delivered"],
        "missing": total - counts["delivered"],
        "duplicates": counts["duplicates"],
        "ack p50 ms": ack_h.percentile_ms(50),
        "ack p99 ms": ack_h.percentile_ms(99),
        "ack p99.9 ms": ack_h.percentile_ms(99.9),
        "deliver p50 ms": deliver_h.percentile_ms(50),
        "deliver p99 ms": deliver_h.percentile_ms(99),
        "deliver p99.9 ms": deliver_h.percentile_ms(99.9),
        "client CPU %": round(100 * (cpu1 - cpu0) / wall, 1),
        "server CPU %": round(100 * server_s / wall, 1),
        "server CPU ms per msg": round(1000 * server_s / max(1, counts["delivered"]), 3),
        **cpu_rows(target, use, wall, counts["delivered"], "ms per msg", 1000),
    }


# Members per group.create / group.invite frame: ~20 bytes an id keeps a frame far below the
# gateway's 64 KiB frame limit.
GROUP_CHUNK = 2000


async def p2_group_fanout(target: BenchTarget, args: argparse.Namespace) -> dict:
    """One group of N online members, one sender at open-loop rate R; time to last member.

    The sender (the group's owner) runs here; the members' sockets too with ``--procs 1``,
    else in ``--procs`` member processes whose counts and CPU are merged into the same rows.
    """
    if args.members < 2:
        raise SystemExit("P2 needs --members 2 or more (the sender and at least one member)")
    if not 1 <= args.procs < args.members:
        raise SystemExit("P2 needs 1 <= --procs < --members (each process holds a member)")
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        accounts = await make_accounts(http, target.url, args.members)
        owner, members = accounts[0], accounts[1:]
        side: MemberSide = (
            LocalMembers(http, members, args.messages)
            if args.procs == 1
            else MemberProcesses(members, args.messages, args.procs, parse_cpus(args.client_cpus))
        )
        owner_ws = await open_socket(http, owner)
        tally = side.tally
        ack_h = LatencyHistogram()
        replies: dict[str, asyncio.Future[dict]] = {}
        sent_at: dict[str, int] = {}
        counts = {"acks": 0, "errors": 0}

        async def read_owner() -> None:
            async for msg in owner_ws:
                frame = json.loads(msg.data)
                kind, request_id = frame.get("type"), frame.get("id", "")
                if kind == "msg.ack" and request_id in sent_at:
                    ack_h.add(time.perf_counter_ns() - sent_at[request_id])
                    counts["acks"] += 1
                elif request_id in replies:
                    replies.pop(request_id).set_result(frame)
                elif kind == "error":
                    counts["errors"] += 1

        async def request(frame: dict) -> dict:
            replies[frame["id"]] = asyncio.get_running_loop().create_future()
            await owner_ws.send_str(json.dumps(frame))
            reply = await asyncio.wait_for(replies[frame["id"]], 60)
            if reply.get("type") == "error":
                raise RuntimeError(f"{frame['type']} failed: {reply}")
            return reply

        try:
            await side.connect()
            reader = asyncio.create_task(read_owner())
            ids = [a.user_id for a in members]
            created = await request(
                {"type": "group.create", "id": "g0", "name": "p2", "members": ids[:GROUP_CHUNK]}
            )
            for start in range(GROUP_CHUNK, len(ids), GROUP_CHUNK):
                chunk = ids[start : start + GROUP_CHUNK]
                await request(
                    {
                        "type": "group.invite",
                        "id": f"g{start}",
                        "group_id": created["group_id"],
                        "users": chunk,
                    }
                )
            await side.wait_joined(120)
            await asyncio.sleep(1)  # let the last group.event frames settle before measuring
            await side.measure(created["conversation"])

            cpu0, sample0, t0 = client_cpu(), target.cpu_sample(), time.perf_counter()
            t0_ns = time.perf_counter_ns()
            for i in range(args.messages):
                delay = t0 + i / args.rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                text = tally.text(i)
                request_id = f"s{i}"
                sent_at[request_id] = tally.send_ns[i]
                await owner_ws.send_str(
                    json.dumps(
                        {
                            "type": "msg.send",
                            "id": request_id,
                            "conversation": created["conversation"],
                            "client_msg_id": f"c{i}",
                            "content": {"kind": "text", "text": text},
                        }
                    )
                )
            send_wall = time.perf_counter() - t0
            member_s = await side.finish(30)
            wall = time.perf_counter() - t0
            cpu1, sample1 = client_cpu(), target.cpu_sample()
            reader.cancel()
        finally:
            await side.close()
    use = sample0.until(sample1)
    sender_s = cpu1 - cpu0
    return {
        "members": args.members,
        "client processes": 1 + len(member_s),
        "target rate msg/s": args.rate,
        "achieved send rate msg/s": round(args.messages / send_wall, 1),
        "sent": args.messages,
        "acked": counts["acks"],
        "errors": counts["errors"],
        "ack p50 ms": ack_h.percentile_ms(50),
        "ack p99 ms": ack_h.percentile_ms(99),
        # Client CPU: the sender's process and every member process.
        **tally.rows(t0_ns, sender_s + sum(member_s), use[0].total, wall),
        "busiest client process CPU %": round(100 * max([sender_s, *member_s]) / wall, 1),
        **cpu_rows(target, use, wall, tally.delivered, "µs per delivery", 1e6),
    }


async def p3_idle(target: BenchTarget, args: argparse.Namespace) -> dict:
    """N authenticated idle sockets with app-level heartbeats; RSS and CPU of the gateway."""
    gateway = target.gateway_pid()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        accounts = await make_accounts(http, target.url, max(1, args.sockets // 100))
        # One socket first, closed again: what the first one sets up once for the whole
        # process (dev: the presence function's compiled schemas, ~5 MB) is no socket's cost.
        warm = await open_socket(http, accounts[0])
        await warm.close()
        await asyncio.sleep(1)
        rss0 = rss_bytes(gateway)
        gate = asyncio.Semaphore(64)

        async def one(i: int) -> aiohttp.ClientWebSocketResponse:
            async with gate:
                return await open_socket(http, accounts[i % len(accounts)])

        sockets = await asyncio.gather(*(one(i) for i in range(args.sockets)))
        await asyncio.sleep(2)
        rss1 = rss_bytes(gateway)
        cpu0, t0 = cpu_seconds([gateway]), time.perf_counter()
        beats = 0
        while time.perf_counter() - t0 < args.seconds:
            for i, ws in enumerate(sockets):
                await ws.send_str(json.dumps({"type": "ping", "id": f"h{i}"}))
            beats += len(sockets)
            await asyncio.sleep(args.heartbeat)
        cpu1, wall = cpu_seconds([gateway]), time.perf_counter() - t0
        for ws in sockets:
            await ws.close()
    return idle_rows(args.sockets, rss0, rss1, beats, cpu1 - cpu0, wall)


def idle_rows(
    sockets: int, rss0: int, rss1: int, beats: int, cpu_s: float, wall: float
) -> dict[str, float]:
    """P3's figures, the same for imfaas and the peer ("gateway": the process holding the
    sockets): RSS per connection and the CPU the heartbeats cost."""
    return {
        "sockets": sockets,
        "gateway RSS before MB": round(rss0 / 2**20, 1),
        "gateway RSS after MB": round(rss1 / 2**20, 1),
        "RSS per connection KB": round((rss1 - rss0) / sockets / 1024, 2),
        "heartbeats/s": round(beats / wall, 1),
        "gateway CPU % with heartbeats": round(100 * cpu_s / wall, 2),
    }


async def fill_mailbox(http: aiohttp.ClientSession, sender, to: str, n: int) -> None:
    """Send ``n`` messages with up to 256 in flight; return when all are acknowledged."""
    ws = await open_socket(http, sender)
    window = asyncio.Semaphore(256)
    acked = asyncio.Event()
    left = {"n": n}

    async def read() -> None:
        async for msg in ws:
            if json.loads(msg.data).get("type") == "msg.ack":
                window.release()
                left["n"] -= 1
                if not left["n"]:
                    acked.set()

    reader = asyncio.create_task(read())
    for i in range(n):
        await window.acquire()
        frame = {
            "type": "msg.send",
            "id": f"s{i}",
            "to": to,
            "client_msg_id": f"c{i}",
            "content": {"kind": "text", "text": "x" * 40},
        }
        await ws.send_str(json.dumps(frame))
    await asyncio.wait_for(acked.wait(), 300)
    reader.cancel()
    await ws.close()


async def p4_offline_sync(target: BenchTarget, args: argparse.Namespace) -> dict:
    """``messages`` waiting for an offline user; auth → last message through sync paging."""
    async with aiohttp.ClientSession() as http:
        runs = []
        for _ in range(args.repeat):
            sender, receiver = await make_accounts(http, target.url, 2)
            await fill_mailbox(http, sender, receiver.user_id, args.messages)
            t0 = time.perf_counter()
            rws = await open_socket(http, await login(http, target.url, receiver.username))
            got, cursors, page_no = 0, {}, 0
            while True:
                page_no += 1
                await rws.send_str(
                    json.dumps(
                        {"type": "sync", "id": f"p{page_no}", "cursors": cursors, "limit": 1000}
                    )
                )
                reply = json.loads((await rws.receive()).data)
                got += len(reply["messages"])
                cursors = reply["cursors"]
                if not reply["has_more"]:
                    break
            runs.append(time.perf_counter() - t0)
            assert got == args.messages, got
    return {
        "messages": args.messages,
        "runs": len(runs),
        "login→last message p50 ms": round(1000 * statistics.median(runs), 1),
        "min ms": round(1000 * min(runs), 1),
        "max ms": round(1000 * max(runs), 1),
    }


async def p5_login_churn(target: BenchTarget, args: argparse.Namespace) -> dict:
    """Workers loop login → WebSocket → auth.ok → close (``--mode login``), or, with a token
    from one login each, WebSocket → auth.ok → close (``--mode connect``: Centrifugo's P5)."""
    connect_only = args.mode == "connect"
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        accounts = await make_accounts(http, target.url, args.workers)
        hist, done = LatencyHistogram(), {"n": 0}

        async def worker(account) -> None:
            while time.perf_counter() < stop_at:
                t0 = time.perf_counter_ns()
                fresh = account if connect_only else await login(http, target.url, account.username)
                ws = await open_socket(http, fresh)
                hist.add(time.perf_counter_ns() - t0)
                done["n"] += 1
                await ws.close()

        cpu0, sample0, t0 = client_cpu(), target.cpu_sample(), time.perf_counter()
        stop_at = t0 + args.seconds
        await asyncio.gather(*(worker(a) for a in accounts))
        wall = time.perf_counter() - t0
        cpu1, sample1 = client_cpu(), target.cpu_sample()
    use = sample0.until(sample1)
    what = "connects" if connect_only else "logins"
    first = "auth→auth.ok" if connect_only else "login→auth.ok"
    return {
        "mode": args.mode,
        "workers": args.workers,
        f"{what}/s": round(done["n"] / wall, 1),
        f"{first} p50 ms": hist.percentile_ms(50),
        f"{first} p99 ms": hist.percentile_ms(99),
        "client CPU %": round(100 * (cpu1 - cpu0) / wall, 1),
        "server CPU %": round(100 * use[0].total / wall, 1),
        f"server CPU ms per {what[:-1]}": round(1000 * use[0].total / max(1, done["n"]), 3),
        **cpu_rows(target, use, wall, done["n"], f"ms per {what[:-1]}", 1000),
    }


FIRST_EVENTS = {
    "login": (
        "io.imfaas.http.register.v1",
        {"username": "coldstart", "password": "password-1"},
        {},
    ),
    "send": ("io.imfaas.client.msg.send.v1", {"type": "msg.send", "id": "x"}, "frame"),
    "history": ("io.imfaas.client.conv.list.v1", {"type": "conv.list", "id": "x"}, "frame"),
    "store": (
        "io.imfaas.message.submitted.v1",
        {
            "conversation": "d:a:b",
            "sender": "a",
            "sender_device": "d",
            "client_msg_id": "c",
            "content": {"kind": "text", "text": "t"},
            "submitted_ts": 0,
            "reply_to": {"node": "n", "conn": "c", "request_id": "r"},
        },
        {},
    ),
    "fanout": (
        "io.imfaas.session.revoked.v1",
        {"user": "a", "device": "d", "session": "s", "close_code": 4401, "reason": "bench"},
        {},
    ),
    # Requests answered with not_found or an empty list still run the whole handler path.
    "relation": ("io.imfaas.client.friend.list.v1", {"type": "friend.list", "id": "x"}, "frame"),
    "group": (
        "io.imfaas.client.group.info.v1",
        {"type": "group.info", "id": "x", "group_id": "g1"},
        "frame",
    ),
    "media": (
        "io.imfaas.client.media.download_url.v1",
        {"type": "media.download_url", "id": "x", "key": "k"},
        "frame",
    ),
    "presence": (
        "io.imfaas.client.presence.subscribe.v1",
        {"type": "presence.subscribe", "id": "x", "users": ["b"]},
        "frame",
    ),
    "push": ("io.imfaas.client.push.settings.v1", {"type": "push.settings", "id": "x"}, "frame"),
}


def p6_cold_start(args: argparse.Namespace) -> dict:
    """Process start → first CloudEvent answered, with the command each image runs."""
    from imfaas.events.codec import encode_http, new_event
    from imfaas.shared.access_tokens import ensure_key_pair

    rows = {}
    for name, (event_type, data, extra) in FIRST_EVENTS.items():
        times = []
        for _ in range(args.repeat):
            with tempfile.TemporaryDirectory() as tmp:
                ensure_key_pair(Path(tmp) / "keys", "k1")
                port = free_port_range(1)
                ext = (
                    {"imuser": "a", "imdevice": "d", "imnode": "n", "imconn": "c"}
                    if extra == "frame"
                    else {}
                )
                headers, body = encode_http(new_event(event_type, "/bench", data, ext))
                env = {
                    **os.environ,
                    "IMFAAS_DATA_DIR": tmp,
                    "IMFAAS_ARGON2_TIME_COST": "1",
                    "IMFAAS_ARGON2_MEMORY_KIB": "1024",
                    "IMFAAS_DELIVERY_URL_TEMPLATE": "http://127.0.0.1:9/{node}",
                }
                t0 = time.perf_counter()
                proc = subprocess.Popen(
                    [
                        "taskset",
                        "-c",
                        "0",
                        sys.executable,
                        "-m",
                        "functions_framework",
                        "--source",
                        str(REPO / "functions" / name / "main.py"),
                        "--target",
                        name,
                        "--signature-type",
                        "http",
                        "--asgi",
                        "--host",
                        "127.0.0.1",
                        "--port",
                        str(port),
                    ],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    cwd=REPO,
                )
                try:
                    while True:
                        try:
                            request = urllib.request.Request(
                                f"http://127.0.0.1:{port}/", data=body, headers=headers
                            )
                            with urllib.request.urlopen(request, timeout=5) as response:
                                if response.status in (200, 202):
                                    break
                        except OSError:
                            if time.perf_counter() - t0 > 30:
                                raise
                            time.sleep(0.01)
                    times.append(time.perf_counter() - t0)
                finally:
                    proc.terminate()
                    proc.wait()
        rows[f"{name} cold start p50 ms"] = round(1000 * statistics.median(times), 1)
    return rows


SCENARIOS = {
    "P1": p1_send_deliver,
    "P2": p2_group_fanout,
    "P3": p3_idle,
    "P4": p4_offline_sync,
    "P5": p5_login_churn,
}

# Options whose natural size differs by scenario: (default, {scenario: default}).
PER_SCENARIO_DEFAULTS = {"rate": (1000, {"P2": 20}), "messages": (10000, {"P2": 200})}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("scenario", choices=[*SCENARIOS, "P6"])
    parser.add_argument("--target", choices=["dev", "cluster"], default="dev")
    parser.add_argument("--pairs", type=int, default=100)
    parser.add_argument("--rate", type=float, help="msg/s (P1: 1000, P2: 20)")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--sockets", type=int, default=2000)
    parser.add_argument("--heartbeat", type=float, default=5.0)
    parser.add_argument("--messages", type=int, help="P2: 200 sent, P4: 10000 waiting")
    parser.add_argument("--members", type=int, default=1000, help="P2 group size, sender too")
    parser.add_argument("--workers", type=int, default=32)
    parser.add_argument(
        "--mode",
        choices=["login", "connect"],
        default="login",
        help="P5: password login per socket, or reconnects with a token (Centrifugo's P5)",
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--procs", type=int, default=1, help="P2: client processes holding the members' sockets"
    )
    parser.add_argument(
        "--client-cpus",
        default="1",
        help="CPUs for the client processes: 1, 1,3 or 1-4 (the server has CPU 0); "
        "P2's member process i gets the i-th, round-robin",
    )
    args = parser.parse_args()
    for option, (default, by_scenario) in PER_SCENARIO_DEFAULTS.items():
        if getattr(args, option) is None:
            setattr(args, option, by_scenario.get(args.scenario, default))
    os.sched_setaffinity(0, set(parse_cpus(args.client_cpus)))
    if args.scenario == "P6":
        report("P6", "functions", p6_cold_start(args))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        target = BenchTarget(args.target, Path(tmp) / "data")
        target.start()
        try:
            rows = asyncio.run(SCENARIOS[args.scenario](target, args))
        finally:
            target.stop()
    name = (
        f"{args.scenario}-connect"
        if args.scenario == "P5" and args.mode == "connect"
        else args.scenario
    )
    report(name, args.target, rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
