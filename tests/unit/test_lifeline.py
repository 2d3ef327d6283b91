"""Recovery reaps what dead engine runs left: real processes carrying the run mark of a dead owner are killed,
those of a live owner are not."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import psutil
import pytest

from paybill_infra import lifeline

SLEEPER = [sys.executable, "-c", "import time; time.sleep(120)"]


@pytest.fixture
def spawned() -> Iterator[list[subprocess.Popen[bytes]]]:
    processes: list[subprocess.Popen[bytes]] = []
    yield processes
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def test_reap_orphans_kills_only_processes_of_dead_owners(spawned: list[subprocess.Popen[bytes]]) -> None:
    owner = subprocess.Popen(SLEEPER)
    spawned.append(owner)
    dead_mark = lifeline.owner_mark(psutil.Process(owner.pid))
    owner.kill()
    owner.wait(timeout=10)

    orphan = subprocess.Popen(SLEEPER, env={**os.environ, lifeline.OWNER_ENV: dead_mark})
    live = subprocess.Popen(SLEEPER, env=lifeline.marked(os.environ))
    unmarked = subprocess.Popen(SLEEPER)
    spawned.extend([orphan, live, unmarked])

    reaped = lifeline.reap_orphans()

    assert orphan.pid in reaped
    assert not psutil.pid_exists(orphan.pid)  # killed and reaped (``wait_procs`` reaps children too)
    assert live.poll() is None and unmarked.poll() is None
    assert {live.pid, unmarked.pid}.isdisjoint(reaped)


def test_a_reused_pid_does_not_count_as_the_owner() -> None:
    me = psutil.Process()
    assert lifeline.owner_mark() == f"{me.pid}:{me.create_time():.2f}"
    assert lifeline.marked({})[lifeline.OWNER_ENV] == lifeline.owner_mark()
    assert not lifeline._alive(f"{me.pid}:{me.create_time() - 100:.2f}")  # same pid, another process
    assert lifeline._alive(lifeline.owner_mark())
    assert not lifeline._alive("not-a-mark")
