"""Starts the system under test for a benchmark: ``imfaas dev`` or the local cluster.

The server side is pinned to CPU 0 and the load generator to CPU 1, so the two do not steal
each other's core. Password hashing is made cheap (argon2 t=1, 1 MiB) so that P5 measures
the login path, not the hash; the figure is stated with the results.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

from imfaas.local_ports import free_port_range

REPO = Path(__file__).resolve().parents[1]


class BenchTarget:
    """One imfaas run: ``dev`` (one process) or ``cluster`` (``imfaas up``, real backends)."""

    def __init__(self, kind: str, data_dir: Path) -> None:
        self.kind = kind
        self.port = free_port_range()
        self.data_dir = data_dir
        ns = "b" + uuid.uuid4().hex[:10]
        self.env = {
            **os.environ,
            "IMFAAS_ARGON2_TIME_COST": "1",
            "IMFAAS_ARGON2_MEMORY_KIB": "1024",
            "IMFAAS_SOCKET_RATE_PER_S": "100000",
            "IMFAAS_SOCKET_RATE_BURST": "100000",
            # The load comes from one IP and from users sending far above a person's rate.
            "IMFAAS_MAX_CONNECTIONS_PER_IP": "0",
            "IMFAAS_FRAME_RATES": "",
            "IMFAAS_POSTGRES_SCHEMA": ns,
            "IMFAAS_CASSANDRA_KEYSPACE": ns,
            "IMFAAS_REDIS_PREFIX": f"{ns}:",
            "IMFAAS_KAFKA_TOPIC_PREFIX": f"{ns}.",
        }
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start pinned to CPU 0 and wait until it serves."""
        mode = ["up", "--gateways", "2"] if self.kind == "cluster" else ["dev"]
        log = (self.data_dir.parent / f"{self.data_dir.name}.log").open("ab")
        self.process = subprocess.Popen(
            [
                "taskset",
                "-c",
                "0",
                sys.executable,
                "-m",
                "imfaas",
                *mode,
                "--port",
                str(self.port),
                "--data-dir",
                str(self.data_dir),
                "--log-level",
                "WARNING",
            ],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=REPO,
        )
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.kind} exited early")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1) as response:
                    if response.status == 200 and self._all_ready():
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.kind} not ready")

    def _all_ready(self) -> bool:
        if self.kind != "cluster":
            return True
        log = self.data_dir.parent / f"{self.data_dir.name}.log"
        return b"imfaas up: gateways" in log.read_bytes()

    def server_pids(self) -> list[int]:
        """Every process of the run (the cluster's children too)."""
        assert self.process is not None
        pgid = os.getpgid(self.process.pid)
        pids = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    if os.getpgid(int(entry.name)) == pgid:
                        pids.append(int(entry.name))
                except ProcessLookupError:
                    continue
        return pids

    def gateway_pid(self) -> int:
        """The process holding the sockets (dev: the one process; cluster: gateway 1)."""
        assert self.process is not None
        if self.kind == "dev":
            return self.process.pid
        for pid in self.server_pids():
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            if b"gateway" in cmd and str(self.port).encode() in cmd:
                return pid
        raise RuntimeError("gateway process not found")

    def stop(self) -> None:
        """SIGTERM the whole process group, SIGKILL after 20 s."""
        if self.process is None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of these processes so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def rss_bytes(pid: int) -> int:
    """Resident memory of one process."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0
