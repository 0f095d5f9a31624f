"""mlpipe.local.processes with real processes: a group that handles SIGTERM ends at once, one that ignores it
ends by SIGKILL after the grace period, members that outlive their leader are stopped too, and a pid (a process
this interpreter did not start) is stopped like a Popen."""

from __future__ import annotations

import subprocess
import sys
import time

from mlpipe.local.processes import group_members, group_running, pid_alive, stop_process_group, stop_process_groups

HANDLES_TERM = "import signal, sys, time\nsignal.signal(signal.SIGTERM, lambda *a: sys.exit(143))\n"
IGNORES_TERM = "import signal, sys, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
READY = "print('ready', flush=True)\ntime.sleep(600)\n"
# a leader that exits on SIGTERM, with a child in its group that ignores it
LEADER_WITH_STUBBORN_CHILD = (
    HANDLES_TERM
    + "import subprocess\n"
    + f"child = subprocess.Popen([sys.executable, '-c', {IGNORES_TERM + READY!r}], stdout=subprocess.PIPE)\n"
    + "child.stdout.readline()\n"
    + "print(child.pid, flush=True)\n"
    + "time.sleep(600)\n"
)


def start(code: str) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, start_new_session=True)
    assert proc.stdout is not None
    proc.first_line = proc.stdout.readline().strip()  # type: ignore[attr-defined]  # the handler is installed
    return proc


def timed_stop(*args, **kwargs) -> tuple[bool, float]:
    started = time.monotonic()
    ended = stop_process_group(*args, **kwargs)
    return ended, time.monotonic() - started


def test_a_group_that_handles_sigterm_ends_at_once() -> None:
    proc = start(HANDLES_TERM + READY)
    ended, seconds = timed_stop(proc, grace_s=5.0)
    assert ended and seconds < 2.0, seconds
    assert proc.returncode == 143                  # its own handler ran: SIGTERM, not SIGKILL
    assert not group_running(proc)


def test_a_group_that_ignores_sigterm_is_killed_after_the_grace_period() -> None:
    proc = start(IGNORES_TERM + READY)
    ended, seconds = timed_stop(proc, grace_s=1.5)
    assert ended and 1.5 <= seconds < 4.0, seconds
    assert proc.returncode == -9


def test_members_that_outlive_their_leader_are_stopped_too() -> None:
    proc = start(LEADER_WITH_STUBBORN_CHILD)
    child = int(proc.first_line)  # type: ignore[attr-defined]
    assert sorted(group_members(proc.pid)) == sorted([proc.pid, child])
    ended, seconds = timed_stop(proc, grace_s=1.5)
    assert ended and 1.5 <= seconds < 4.0, seconds  # the leader ended at once; its child only by SIGKILL
    assert proc.returncode == 143 and not pid_alive(child) and group_members(proc.pid) == []


def test_sigterm_to_the_leader_only_leaves_the_members_to_the_leader() -> None:
    """A server that stops its own workers gets SIGTERM alone; members still there after the grace are killed."""
    proc = start(LEADER_WITH_STUBBORN_CHILD)
    child = int(proc.first_line)  # type: ignore[attr-defined]
    ended, seconds = timed_stop(proc, grace_s=1.0, term_leader_only=True)
    assert ended and 1.0 <= seconds < 3.5, seconds
    assert not pid_alive(child)


def test_a_pid_is_stopped_like_a_popen() -> None:
    proc = start(IGNORES_TERM + READY)
    ended, seconds = timed_stop(proc.pid, grace_s=1.0)
    assert ended and 1.0 <= seconds < 3.5, seconds
    assert not pid_alive(proc.pid)                 # a zombie until reaped counts as ended
    proc.wait(timeout=5)


def test_several_groups_share_one_grace_period() -> None:
    procs = [start(IGNORES_TERM + READY) for _ in range(3)] + [start(HANDLES_TERM + READY)]
    started = time.monotonic()
    assert stop_process_groups(procs, grace_s=1.5)
    seconds = time.monotonic() - started
    assert 1.5 <= seconds < 4.0, seconds           # not 3 x 1.5 s
    assert [p.returncode for p in procs] == [-9, -9, -9, 143]


def test_an_ended_group_is_left_alone() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"], start_new_session=True)
    proc.wait()
    ended, seconds = timed_stop(proc, grace_s=30.0)
    assert ended and seconds < 0.5

