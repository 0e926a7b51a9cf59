"""Starts the system under test for a benchmark: ``imfaas dev`` or the local cluster.

The server side is pinned to CPU 0 and the load generator to CPU 1, so the two do not steal
each other's core. Password hashing is made cheap (argon2 t=1, 1 MiB) so that P5 measures
the login path, not the hash; the figure is stated with the results.

Server CPU is read from ``/proc``: every process under the started one (``imfaas up`` puts
each child in its own session, so a process group does not find them), each named by its
command line, and on the cluster the backend servers, found by command name.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from imfaas.local_cluster import process_tree
from imfaas.local_ports import free_port_range

REPO = Path(__file__).resolve().parents[1]


class BenchTarget:
    """One imfaas run: ``dev`` (one process) or ``cluster`` (``imfaas up``, real backends)."""

    def __init__(self, kind: str, data_dir: Path) -> None:
        self.kind = kind
        self.port = free_port_range()
        self.data_dir = data_dir
        ns = self.namespace = "b" + uuid.uuid4().hex[:10]
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
        """Every process of the run: the started one and all its descendants."""
        assert self.process is not None
        return process_tree(self.process.pid)

    def server_processes(self) -> dict[int, str]:
        """Every process of the run by pid, named as in ``process_name``."""
        assert self.process is not None
        return name_tree(self.process.pid)

    def cpu_sample(self) -> CpuSample:
        """CPU so far of the run's processes and, on the cluster, of the backend servers."""
        backends = backend_processes() if self.kind == "cluster" else {}
        return CpuSample(sample_cpu(self.server_processes()), sample_cpu(backends))

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
        if self.kind == "cluster":
            # Every run makes its own keyspace and topics; left behind they pile up in the
            # brokers' heaps and slow every later run.
            from imfaas.shared.testing import drop_real_namespace

            for problem in drop_real_namespace(
                keyspace=self.namespace, topic_prefix=f"{self.namespace}."
            ):
                print(f"bench: not cleaned up: {problem}", file=sys.stderr)


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of one process (all its threads) so far; None once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses, so split after its ')'.
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of these processes so far."""
    return sum(process_cpu_seconds(pid) or 0.0 for pid in pids)


def own_cpu_seconds() -> float:
    """User + system CPU seconds of this process (finer than the clock ticks of ``/proc``)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def _option(cmd: list[str], name: str) -> str | None:
    return cmd[cmd.index(name) + 1] if name in cmd[:-1] else None


def _node_id(pid: int) -> str | None:
    # imfaas up gives each gateway its node id in the environment, not on the command line.
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return None
    for entry in environ.split(b"\0"):
        if entry.startswith(b"IMFAAS_NODE_ID="):
            return entry.split(b"=", 1)[1].decode(errors="replace")
    return None


def process_name(pid: int) -> str | None:
    """What an imfaas process is, from its command line, or None for anything else.

    ``imfaas dev``, ``imfaas up`` (the cluster's supervisor), a gateway by node id
    (``gw-1``; ``gateway :<port>`` when the id is not readable), ``dispatch``, or a
    function by its functions-framework ``--target`` (``fanout``, ``store``, ...).
    """
    cmd = _cmdline(pid)
    if "functions_framework" in cmd or any(c.endswith("functions-framework") for c in cmd):
        return _option(cmd, "--target") or "functions-framework"
    # ``python -m imfaas <mode>`` or the ``imfaas`` console script.
    at = next((i for i, c in enumerate(cmd[:3]) if c == "imfaas" or c.endswith("/imfaas")), -1)
    if at < 0 or at + 1 >= len(cmd):
        return None
    mode = cmd[at + 1]
    if mode == "gateway":
        return _node_id(pid) or f"gateway :{_option(cmd, '--port')}"
    if mode in ("dev", "up"):
        return f"imfaas {mode}"
    return mode


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return "?"


def _ppid(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except OSError:
        return 0


def name_tree(root: int) -> dict[int, str]:
    """``root`` and its descendants by pid, each named by ``process_name``.

    A process without an imfaas command line (a worker forked or spawned by
    functions-framework's gunicorn, say) takes its nearest named ancestor's name, so its CPU
    counts for the function it serves; failing that, its command name.
    """
    names: dict[int, str] = {}
    for pid in process_tree(root):  # parents come before their children
        names[pid] = process_name(pid) or names.get(_ppid(pid)) or _comm(pid)
    return names


# The local cluster's backend servers (infra/*.sh): (name, command name, a word that must be
# in the command line). Java servers are told apart by their main class.
BACKENDS = (
    ("kafka", "java", "kafka.Kafka"),
    ("cassandra", "java", "CassandraDaemon"),
    ("s3proxy", "java", "s3proxy"),
    ("postgres", "postgres", ""),
    ("redis", "redis-server", ""),
)


def backend_processes() -> dict[int, str]:
    """The backend servers' processes on this machine by pid, named ``kafka``, ``postgres``, ...

    Found by command name, so whoever else uses the same servers meanwhile counts too.
    PostgreSQL is its postmaster and every backend and helper process it forked.
    """
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        comm = _comm(pid)
        for name, command, word in BACKENDS:
            if comm == command and (not word or any(word in c for c in _cmdline(pid))):
                found[pid] = name
                break
    return found


# Each process's name and CPU seconds so far, by pid.
CpuByPid = dict[int, tuple[str, float]]


def sample_cpu(processes: dict[int, str]) -> CpuByPid:
    """Each named process's CPU seconds so far, by pid (processes already gone are left out)."""
    sample = {}
    for pid, name in processes.items():
        seconds = process_cpu_seconds(pid)
        if seconds is not None:
            sample[pid] = (name, seconds)
    return sample


@dataclass
class CpuUse:
    """CPU seconds by process name over an interval."""

    by_name: dict[str, float] = field(default_factory=dict)
    processes: dict[str, int] = field(default_factory=dict)
    exited: int = 0  # processes gone by the end: their CPU since the start is not counted

    @property
    def total(self) -> float:
        """All the processes' CPU seconds."""
        return sum(self.by_name.values())


def cpu_use(before: CpuByPid, after: CpuByPid) -> CpuUse:
    """CPU used between two ``sample_cpu`` samples, summed by name.

    A process that started in between counts from zero; one that exited in between is lost
    (its CPU is no longer readable) and counted in ``exited``.
    """
    use = CpuUse()
    for pid, (name, seconds) in after.items():
        start = before.get(pid, (name, 0.0))[1]
        use.by_name[name] = use.by_name.get(name, 0.0) + seconds - start
        use.processes[name] = use.processes.get(name, 0) + 1
    use.exited = len(before.keys() - after.keys())
    return use


@dataclass
class CpuSample:
    """``BenchTarget.cpu_sample``: the run's processes and the backends, each by pid."""

    server: CpuByPid
    backends: CpuByPid

    def until(self, later: CpuSample) -> tuple[CpuUse, CpuUse]:
        """Server and backend CPU used from this sample to ``later``."""
        return cpu_use(self.server, later.server), cpu_use(self.backends, later.backends)


def rss_bytes(pid: int) -> int:
    """Resident memory of one process."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0
