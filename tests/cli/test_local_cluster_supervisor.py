"""``imfaas up`` restarts children that die, with a back-off, and publishes their pids."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

from imfaas.local_cluster import (
    RESTART_DELAY_MAX_S,
    Child,
    pid_file,
    process_tree,
    restart_dead_children,
    spawn_child,
    stop_children,
)


def _child(code: str) -> Child:
    return Child("worker", [sys.executable, "-c", code], {}, None)


def _wait_exit(child: Child) -> None:
    assert child.process is not None
    child.process.wait(timeout=30)


def test_spawn_publishes_the_pid(tmp_path: Path) -> None:
    child = _child("import time; time.sleep(30)")
    spawn_child(child, tmp_path)
    try:
        assert child.process is not None
        assert pid_file(tmp_path, "worker").read_text().strip() == str(child.process.pid)
    finally:
        assert child.process is not None
        child.process.kill()
        child.process.wait()


def test_a_dead_child_is_started_again_with_a_new_pid(tmp_path: Path) -> None:
    child = _child("raise SystemExit(3)")
    spawn_child(child, tmp_path)
    first = child.process
    _wait_exit(child)
    now = time.monotonic()
    assert restart_dead_children([child], tmp_path, now) == []  # backing off
    restarted = restart_dead_children([child], tmp_path, now + child.restart_delay_s + 1e-3)
    assert restarted == ["worker (exit 3)"]
    assert child.process is not first and child.restarts == 1
    assert child.process is not None
    assert pid_file(tmp_path, "worker").read_text().strip() == str(child.process.pid)
    _wait_exit(child)


def test_a_crash_looping_child_backs_off_up_to_the_cap(tmp_path: Path) -> None:
    child = _child("raise SystemExit(1)")
    spawn_child(child, tmp_path)
    delays = []
    for _ in range(8):
        _wait_exit(child)
        now = time.monotonic()
        restart_dead_children([child], tmp_path, now)  # notices the death
        delays.append(child.restart_delay_s)
        assert restart_dead_children([child], tmp_path, now + child.restart_delay_s + 1e-3)
    _wait_exit(child)
    assert delays == sorted(delays) and delays[0] < delays[-1] == RESTART_DELAY_MAX_S


def test_a_live_child_is_left_alone(tmp_path: Path) -> None:
    child = _child("import time; time.sleep(30)")
    spawn_child(child, tmp_path)
    try:
        assert restart_dead_children([child], tmp_path, time.monotonic() + 100) == []
        assert child.restarts == 0
    finally:
        assert child.process is not None
        child.process.kill()
        child.process.wait()


def _gone(pid: int) -> bool:
    """No such process, or a zombie waiting to be reaped (it holds no port, runs no code)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "\nState:\tZ" in status


def _wait_for_worker(child: Child, timeout: float = 30.0) -> int:
    assert child.process is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        tree = process_tree(child.process.pid)
        if len(tree) > 1:
            return tree[1]
        time.sleep(0.05)
    raise AssertionError("the child never started its worker")


def test_a_crashed_childs_orphaned_workers_are_killed_before_the_restart(tmp_path: Path) -> None:
    # Like functions-framework: a master that forks a worker; kill -9 hits the master only.
    child = _child(
        "import subprocess, sys, time;"
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']);"
        "time.sleep(60)"
    )
    spawn_child(child, tmp_path)
    worker = _wait_for_worker(child)
    assert child.process is not None
    os.kill(child.process.pid, signal.SIGKILL)
    _wait_exit(child)
    assert not _gone(worker)  # orphaned, still running
    restart_dead_children([child], tmp_path, time.monotonic())
    deadline = time.monotonic() + 10
    while not _gone(worker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(worker)
    stop_children([child])


def test_stop_takes_the_childs_workers_along(tmp_path: Path) -> None:
    child = _child(
        "import subprocess, sys, time;"
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']);"
        "time.sleep(60)"
    )
    spawn_child(child, tmp_path)
    worker = _wait_for_worker(child)
    stop_children([child])
    deadline = time.monotonic() + 10
    while not _gone(worker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(worker)
