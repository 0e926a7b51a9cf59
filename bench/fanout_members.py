"""P2's group members: one socket each, in this process or spread over several client processes.

The sender (the group's owner) always stays in the scenario's process. The members' side is
either ``LocalMembers`` (every socket in that process, ``--procs 1``) or ``MemberProcesses``
(``--procs N``: the members split over N spawned processes, each pinned to one of the client
CPUs). Each process keeps its own ``FanoutTally``; the sender's merges them at the end.

A message's text carries its send time from ``time.perf_counter_ns``, which on Linux is
CLOCK_MONOTONIC, one clock for every process on the machine, so a receive time taken in a
member process can be subtracted from it.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import time
from multiprocessing.connection import Connection
from typing import Any, Protocol

import aiohttp
from bench_target import own_cpu_seconds
from latency_histogram import LatencyHistogram
from protocol_load import Account, open_socket

# Sockets opened at once per process: enough to connect 1,000 members in a few seconds
# without a burst of handshakes the server would see as an attack.
CONNECT_AT_ONCE = 64
# How long a member process waits for its members' joins before it gives up.
JOIN_TIMEOUT_S = 300.0


class FanoutTally:
    """M numbered messages, each due at R receivers: deliveries, duplicates, time to the last.

    A message's text is ``"<number> <send time ns>"`` (``perf_counter_ns``). Shared with
    ``peer_scenarios.py`` so both P2s count and report alike.
    """

    def __init__(self, messages: int, receivers: int) -> None:
        self.receivers = receivers
        self.expected = messages * receivers
        self.send_ns, self.reached, self.last_ns = [0] * messages, [0] * messages, [0] * messages
        self.seen: list[set[object]] = [set() for _ in range(receivers)]
        self.deliver = LatencyHistogram()
        self.delivered = self.duplicates = 0
        self.all_delivered = asyncio.Event()

    def text(self, number: int) -> str:
        """The text of message ``number``, stamped now."""
        self.send_ns[number] = now = time.perf_counter_ns()
        return f"{number} {now}"

    def received(self, receiver: int, key: object, text: str, received_ns: int) -> None:
        """Receiver ``receiver`` got the message with ``text``; ``key`` identifies it there."""
        if key in self.seen[receiver]:
            self.duplicates += 1
            return
        self.seen[receiver].add(key)
        number, stamp = map(int, text.split())
        self.deliver.add(received_ns - stamp)
        self.reached[number] += 1
        self.last_ns[number] = max(self.last_ns[number], received_ns)
        self.delivered += 1
        if self.delivered == self.expected:
            self.all_delivered.set()

    async def drain(self, seconds: float = 30) -> None:
        """Wait until every delivery arrived, ``seconds`` at most (the rest count as missing)."""
        try:
            await asyncio.wait_for(self.all_delivered.wait(), seconds)
        except TimeoutError:
            pass

    def summary(self) -> dict[str, Any]:
        """What ``merge`` needs of this tally, to send from a member process to the sender's."""
        return {
            "reached": self.reached,
            "last_ns": self.last_ns,
            "deliver": self.deliver,
            "delivered": self.delivered,
            "duplicates": self.duplicates,
        }

    def merge(self, summary: dict[str, Any]) -> None:
        """Add another process's ``summary``: its receivers count towards this tally's."""
        self.reached = [a + b for a, b in zip(self.reached, summary["reached"], strict=True)]
        self.last_ns = [max(a, b) for a, b in zip(self.last_ns, summary["last_ns"], strict=True)]
        self.deliver.merge(summary["deliver"])
        self.delivered += summary["delivered"]
        self.duplicates += summary["duplicates"]

    def rows(self, t0_ns: int, client_s: float, server_s: float, wall: float) -> dict:
        """Delivery, time-to-last-member and CPU rows; ``t0_ns`` is the first send's start."""
        last_h = LatencyHistogram()
        complete = [i for i, n in enumerate(self.reached) if n == self.receivers]
        for i in complete:
            last_h.add(self.last_ns[i] - self.send_ns[i])
        delivery_wall = max(1e-9, (max(self.last_ns, default=t0_ns) - t0_ns) / 1e9)
        per_delivery = max(1, self.delivered)
        return {
            "expected deliveries": self.expected,
            "delivered": self.delivered,
            "missing": self.expected - self.delivered,
            "duplicates": self.duplicates,
            "messages short of a member": len(self.reached) - len(complete),
            "deliveries/s": round(self.delivered / delivery_wall, 1),
            "deliver p50 ms": self.deliver.percentile_ms(50),
            "deliver p99 ms": self.deliver.percentile_ms(99),
            "last member p50 ms": last_h.percentile_ms(50),
            "last member p99 ms": last_h.percentile_ms(99),
            "last member p99.9 ms": last_h.percentile_ms(99.9),
            "client CPU %": round(100 * client_s / wall, 1),
            "client CPU µs per delivery": round(1e6 * client_s / per_delivery, 1),
            "server CPU %": round(100 * server_s / wall, 1),
            "server CPU µs per delivery": round(1e6 * server_s / per_delivery, 1),
        }


class Members:
    """Some of the group's members, one socket each in this process, with their own tally."""

    def __init__(self, accounts: list[Account], messages: int) -> None:
        self.accounts = accounts
        self.tally = FanoutTally(messages, len(accounts))
        # Deliveries count only for this conversation, known once the group exists.
        self.conversation = ""
        self.joined = 0
        self.all_joined = asyncio.Event()
        self._readers: list[asyncio.Task[None]] = []

    async def connect(self, http: aiohttp.ClientSession) -> None:
        """Open every member's socket (``auth.ok`` received) and start reading them."""
        gate = asyncio.Semaphore(CONNECT_AT_ONCE)

        async def one(account: Account) -> aiohttp.ClientWebSocketResponse:
            async with gate:
                return await open_socket(http, account)

        sockets = await asyncio.gather(*(one(a) for a in self.accounts))
        self._readers = [asyncio.create_task(self._read(i, ws)) for i, ws in enumerate(sockets)]

    async def _read(self, index: int, ws: aiohttp.ClientWebSocketResponse) -> None:
        me = self.accounts[index].user_id
        async for msg in ws:
            frame = json.loads(msg.data)
            kind = frame.get("type")
            if kind == "group.event":
                if frame.get("kind") == "joined" and me in frame.get("users", ()):
                    self.joined += 1
                    if self.joined == len(self.accounts):
                        self.all_joined.set()
            elif kind == "msg.new":
                now, message = time.perf_counter_ns(), frame["message"]
                if message["conversation"] == self.conversation:
                    key = (message["conversation"], message["seq"])
                    self.tally.received(index, key, message["content"]["text"], now)

    def stop(self) -> None:
        """Stop reading (the sockets close with their session)."""
        for task in self._readers:
            task.cancel()


class MemberSide(Protocol):
    """The members as P2's sender sees them, wherever their sockets are."""

    tally: FanoutTally  # the sender stamps its texts here; every member's counts end up here

    async def connect(self) -> None:
        """Every member's socket is open and authenticated."""

    async def wait_joined(self, timeout: float) -> None:
        """Every member has its ``group.event`` ``joined``."""

    async def measure(self, conversation: str) -> None:
        """Deliveries in ``conversation`` count from now on; client CPU is measured from now."""

    async def finish(self, drain_s: float) -> list[float]:
        """Wait for the deliveries (``drain_s`` at most), merge the counts into ``tally``;
        return each member process's CPU seconds since ``measure`` (none when local)."""

    async def close(self) -> None:
        """Stop reading; end the member processes."""


class LocalMembers:
    """Every member's socket in the sender's process (``--procs 1``)."""

    def __init__(self, http: aiohttp.ClientSession, accounts: list[Account], messages: int):
        self._http = http
        self._members = Members(accounts, messages)
        self.tally = self._members.tally

    async def connect(self) -> None:
        """Open the sockets here."""
        await self._members.connect(self._http)

    async def wait_joined(self, timeout: float) -> None:
        """Wait for every member's ``joined``."""
        await asyncio.wait_for(self._members.all_joined.wait(), timeout)

    async def measure(self, conversation: str) -> None:
        """Count deliveries in ``conversation``."""
        self._members.conversation = conversation

    async def finish(self, drain_s: float) -> list[float]:
        """Wait for the deliveries; their CPU is the sender process's own."""
        await self.tally.drain(drain_s)
        return []

    async def close(self) -> None:
        """Stop reading."""
        self._members.stop()


async def receive(conn: Connection) -> Any:
    """The next object from a pipe, without blocking the event loop while none has come."""
    loop = asyncio.get_running_loop()
    readable = loop.create_future()

    def ready() -> None:
        if not readable.done():
            readable.set_result(None)

    loop.add_reader(conn.fileno(), ready)
    try:
        await readable
    finally:
        loop.remove_reader(conn.fileno())
    return conn.recv()  # raises EOFError when the other end has gone


def parse_cpus(text: str) -> list[int]:
    """``"1"``, ``"1,3"`` or ``"2-5"`` (combinable: ``"1,4-7"``) as a list of CPU numbers."""
    cpus: list[int] = []
    for part in text.split(","):
        first, _, last = part.strip().partition("-")
        cpus.extend(range(int(first), int(last or first) + 1))
    if not cpus:
        raise ValueError(f"no CPUs in {text!r}")
    return cpus


def member_process(conn: Connection, accounts: list[Account], messages: int, cpu: int) -> None:
    """A member process's body: connect, report each step to the sender, send back the tally.

    Steps (each answered on ``conn``): connect → ``("connected",)``; all joined →
    ``("joined",)``; ``("measure", conversation)`` → ``("measuring",)``; ``("drain", s)`` →
    ``("done", summary, cpu_s)``.
    """
    os.sched_setaffinity(0, {cpu})
    asyncio.run(_member_steps(conn, accounts, messages))


async def _member_steps(conn: Connection, accounts: list[Account], messages: int) -> None:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        members = Members(accounts, messages)
        await members.connect(http)
        conn.send(("connected",))
        await asyncio.wait_for(members.all_joined.wait(), JOIN_TIMEOUT_S)
        conn.send(("joined",))
        _, members.conversation = await receive(conn)
        cpu0 = own_cpu_seconds()
        conn.send(("measuring",))
        _, drain_s = await receive(conn)
        await members.tally.drain(drain_s)
        conn.send(("done", members.tally.summary(), own_cpu_seconds() - cpu0))
        members.stop()


class MemberProcesses:
    """The members split over ``procs`` spawned processes (``--procs N``).

    Members go round-robin to the processes; process i is pinned to ``cpus[i % len(cpus)]``.
    """

    def __init__(self, accounts: list[Account], messages: int, procs: int, cpus: list[int]):
        clock = time.get_clock_info("perf_counter").implementation
        if "CLOCK_MONOTONIC" not in clock:
            # Send and receive times would come from different clocks in different processes.
            raise SystemExit(f"--procs needs a machine-wide perf_counter; this one is {clock}")
        self.tally = FanoutTally(messages, len(accounts))
        self._shares = [accounts[i::procs] for i in range(procs)]
        self._messages = messages
        self._cpus = cpus
        self._conns: list[Connection] = []
        self._processes: list[multiprocessing.process.BaseProcess] = []

    async def connect(self) -> None:
        """Start the processes (spawned: a fresh interpreter, no copy of this loop's state)."""
        context = multiprocessing.get_context("spawn")
        for i, share in enumerate(self._shares):
            ours, theirs = context.Pipe()
            process = context.Process(
                target=member_process,
                args=(theirs, share, self._messages, self._cpus[i % len(self._cpus)]),
                name=f"p2-members-{i + 1}",
                daemon=True,
            )
            process.start()
            theirs.close()  # so that our end sees EOF when the process dies
            self._conns.append(ours)
            self._processes.append(process)
        await self._replies("connected")

    async def wait_joined(self, timeout: float) -> None:
        """Wait until every process has all its members' ``joined``."""
        await asyncio.wait_for(self._replies("joined"), timeout)

    async def measure(self, conversation: str) -> None:
        """Tell each process the conversation; return once all count deliveries and CPU."""
        for conn in self._conns:
            conn.send(("measure", conversation))
        await self._replies("measuring")

    async def finish(self, drain_s: float) -> list[float]:
        """Let each process drain; merge their tallies into ``tally``."""
        for conn in self._conns:
            conn.send(("drain", drain_s))
        cpu = []
        for _, summary, cpu_s in await self._replies("done"):
            self.tally.merge(summary)
            cpu.append(cpu_s)
        return cpu

    async def close(self) -> None:
        """Wait a little for the processes to exit, then end those still running."""
        for process in self._processes:
            await asyncio.to_thread(process.join, 10)
            if process.is_alive():
                process.terminate()
                process.join()
        for conn in self._conns:
            conn.close()

    async def _replies(self, step: str) -> list[tuple]:
        async def one(index: int, conn: Connection) -> tuple:
            try:
                reply = await receive(conn)
            except EOFError:
                process = self._processes[index]
                await asyncio.to_thread(process.join, 5)  # for its exit code
                code = process.exitcode
                raise RuntimeError(f"member process {index + 1} exited ({code})") from None
            if reply[0] != step:
                raise RuntimeError(f"member process {index + 1}: {reply[0]}, not {step}")
            return reply

        return list(await asyncio.gather(*(one(i, c) for i, c in enumerate(self._conns))))
