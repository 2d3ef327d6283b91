"""Which processes of a killed run are still alive: a run started with ``start_new_session`` is session
``pid``, and every process it started (the CLI, the wrapper shell, the provider host) stays in it."""

from __future__ import annotations

import os
import time

import psutil


def session_members(sid: int) -> list[psutil.Process]:
    """Live (non-zombie) processes of session ``sid``."""
    members = []
    for process in psutil.process_iter():
        try:
            if os.getsid(process.pid) == sid and process.status() != psutil.STATUS_ZOMBIE:
                members.append(process)
        except (OSError, psutil.Error):
            continue
    return members


def survivors(sid: int, *, within: float) -> list[str]:
    """The command lines of session ``sid`` still running after ``within`` seconds (empty as soon as none is)."""
    deadline = time.monotonic() + within
    while True:
        left = []
        for process in session_members(sid):
            try:
                left.append(" ".join(process.cmdline()))
            except psutil.Error:
                continue
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.2)
