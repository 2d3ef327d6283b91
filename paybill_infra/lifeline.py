"""Engine processes die with the run that started them: no dynamic provider outlives its engine.

Each engine run is a process tree (checked on Linux with the real engine)::

    worker (Automation API) ─► pulumi up ─► /bin/sh pulumi-resource-pulumi-python ─► python -m pulumi.dynamic

The CLI starts each plugin in a process group of its own, and the provider host is a *grandchild* of the
CLI: its direct parent is the wrapper shell, which waits for it. When the worker is killed the CLI exits at
once, but the shell and the provider were left running for good (~90 MB each). Two mechanisms end them:

- :func:`guard_engine`, run inside the provider host when our providers are loaded: a parent-death signal
  (``prctl(PR_SET_PDEATHSIG)``) for the case where its parent is the engine or the shell dies, and a thread
  that waits on a pidfd of the engine (the nearest ``pulumi`` ancestor) and exits the process when the
  engine exits. A pidfd, not polling: it wakes exactly once, and cannot be fooled by a reused pid.
- :func:`reap_orphans`, run by crash recovery: every engine run carries :data:`OWNER_ENV` (the pid and start
  time of the process that started it, see :func:`marked`); a process carrying the mark of a process that no
  longer exists is left from a dead run and is killed (whatever started before the provider code loaded,
  or the shell). Only processes with the mark are touched.

The shared provider host (:mod:`paybill_infra.engine.provider_host`), when the control plane uses one, belongs
to no single run: it ends with the control-plane process that started it (:func:`exit_with`) and carries
that process's mark, so :func:`reap_orphans` finds it too once that process is gone.
"""

from __future__ import annotations

import ctypes
import logging
import os
import select
import signal
import sys
import threading
from collections.abc import Mapping

import psutil

OWNER_ENV = "PAYBILL_ENGINE_OWNER"
"""``<pid>:<start time>`` of the process whose engine run this process belongs to."""
ENGINE_NAME = "pulumi"
PROVIDER_HOST = "pulumi.dynamic.__main__"
_PR_SET_PDEATHSIG = 1
_EXIT_OWNER_GONE = 70
_log = logging.getLogger("paybill_infra.lifeline")


def owner_mark(process: psutil.Process | None = None) -> str:
    """The mark of ``process`` (this one by default): pid and start time, so a reused pid never matches."""
    process = process or psutil.Process()
    return f"{process.pid}:{process.create_time():.2f}"


def marked(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` for an engine run started by this process: every process of the run inherits the mark."""
    return {**env, OWNER_ENV: owner_mark()}


def _alive(mark: str) -> bool:
    pid, _, started = mark.partition(":")
    try:
        return owner_mark(psutil.Process(int(pid))) == f"{int(pid)}:{float(started):.2f}"
    except (ValueError, psutil.Error):
        return False


def reap_orphans() -> list[int]:
    """Kill every process marked with the :data:`OWNER_ENV` of a process that is gone; returns their pids.

    Processes of other users, and those whose environment cannot be read, are skipped."""
    reaped: list[psutil.Process] = []
    for process in psutil.process_iter():
        try:
            mark = process.environ().get(OWNER_ENV)
            if mark is None or _alive(mark) or process.pid == os.getpid():
                continue
            process.kill()
        except psutil.Error:
            continue
        reaped.append(process)
    psutil.wait_procs(reaped, timeout=5)
    if reaped:
        _log.warning("killed %d process(es) left by dead engine runs: %s", len(reaped), [p.pid for p in reaped])
    return [p.pid for p in reaped]


def in_provider_host() -> bool:
    """Whether this process is the engine's Python dynamic-provider host (``python -m pulumi.dynamic``)."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    return spec is not None and spec.name == PROVIDER_HOST


def engine_process() -> psutil.Process | None:
    """The engine that runs this process: its nearest ancestor named ``pulumi``."""
    try:
        return next((p for p in psutil.Process().parents() if p.name() == ENGINE_NAME), None)
    except psutil.Error:
        return None


def guard_engine() -> None:
    """In the provider host: exit when the engine goes away (see the module docstring). Linux only; elsewhere
    (no ``prctl``/pidfd) only :func:`reap_orphans` applies. Idempotent."""
    if _guard.is_set() or not sys.platform.startswith("linux"):
        return
    _guard.set()
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    engine = engine_process()
    if engine is not None:
        exit_with(engine)


def exit_with(process: psutil.Process) -> None:
    """End this process as soon as ``process`` exits: a thread waits on a pidfd of it (see the module
    docstring). Where there are no pidfds (not Linux, a kernel before 5.3, a sandbox) only
    :func:`reap_orphans` applies."""
    if not sys.platform.startswith("linux"):
        return
    try:
        pidfd = os.pidfd_open(process.pid)
    except ProcessLookupError:
        os._exit(_EXIT_OWNER_GONE)
    except OSError:
        return
    if not process.is_running():  # gone, or its pid reused, before the pidfd was opened
        os._exit(_EXIT_OWNER_GONE)
    threading.Thread(target=_exit_with, args=(pidfd,), name="paybill-lifeline", daemon=True).start()


def _exit_with(pidfd: int) -> None:
    """Block until the process behind ``pidfd`` exits, then end this process at once (whatever would ask
    for anything more is gone; nothing here needs flushing)."""
    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    poller.poll()
    os._exit(_EXIT_OWNER_GONE)


_guard = threading.Event()
