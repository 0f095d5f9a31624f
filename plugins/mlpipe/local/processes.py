"""Process supervision shared by the local engines (endpoint servers, tuning trials, local Spark): whether a
process lives, the members of a process group, and stopping a process group the way SageMaker stops a job
(SIGTERM, a grace period to finish, then SIGKILL)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

POLL_S = 0.05
KILL_WAIT_S = 10.0  # how long the group may take to disappear after SIGKILL


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie (exited, not yet reaped by its parent)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes of process group ``pgid`` (an endpoint's uvicorn workers, multiprocessing's
    resource tracker, Spark's Python workers)."""
    proc = Path("/proc")
    if not proc.is_dir():
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return []
        return [pgid]
    members = []
    for stat in proc.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            members.append(int(stat.parent.name))
    return members


def _pid(process: subprocess.Popen | int) -> int:
    return process.pid if isinstance(process, subprocess.Popen) else process


def _leader_alive(process: subprocess.Popen | int) -> bool:
    if isinstance(process, subprocess.Popen):
        return process.poll() is None  # reaps our own child, so it does not linger as a zombie
    return pid_alive(process)


def group_running(process: subprocess.Popen | int) -> bool:
    """Whether the group led by ``process`` (a Popen started with ``start_new_session=True``, or the pid of such
    a leader) still has a live process: the leader, or any member that outlived it."""
    return _leader_alive(process) or bool(group_members(_pid(process)))


def _signal(process: subprocess.Popen | int, signum: int, group: bool) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if group:
            os.killpg(_pid(process), signum)
        else:
            os.kill(_pid(process), signum)


def _wait_until_ended(processes: Sequence[subprocess.Popen | int], deadline: float) -> list[subprocess.Popen | int]:
    """Wait until every group has ended or ``deadline`` passes; the groups still running."""
    left = [p for p in processes if group_running(p)]
    while left and time.monotonic() < deadline:
        time.sleep(POLL_S)
        left = [p for p in left if group_running(p)]
    return left


def stop_process_groups(processes: Sequence[subprocess.Popen | int], grace_s: float, *,
                        term_leader_only: bool = False, kill_wait_s: float = KILL_WAIT_S) -> bool:
    """Stop process groups: SIGTERM to each group (to its leader only with ``term_leader_only``, for a server that
    stops its own workers), up to ``grace_s`` seconds for every group to end (one deadline for all), then SIGKILL
    to each group still running and up to ``kill_wait_s`` seconds for it to disappear. Each process is a Popen
    started with ``start_new_session=True`` (reaped here) or the pid of such a group leader. True when every
    group has ended."""
    running = [p for p in processes if group_running(p)]
    for process in running:
        _signal(process, signal.SIGTERM, group=not term_leader_only)
    left = _wait_until_ended(running, time.monotonic() + grace_s)
    for process in left:
        _signal(process, signal.SIGKILL, group=True)
    left = _wait_until_ended(left, time.monotonic() + kill_wait_s)
    for process in processes:
        if isinstance(process, subprocess.Popen) and process.poll() is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=POLL_S)
    return not left


def stop_process_group(process: subprocess.Popen | int, grace_s: float, *, term_leader_only: bool = False,
                       kill_wait_s: float = KILL_WAIT_S) -> bool:
    """``stop_process_groups`` for one group."""
    return stop_process_groups([process], grace_s, term_leader_only=term_leader_only, kill_wait_s=kill_wait_s)
