"""``examples/backend/run.py`` as a user runs it: it refuses a taken port before creating anything, prints
the database URL (password masked) and a key, and stops the PostgreSQL it started when it is stopped."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from paybill_infra.local.server import EmbeddedServer
from tests.service.conftest import REPO, _free_port

pytestmark = [pytest.mark.engine, pytest.mark.postgres]
RUN = REPO / "examples" / "backend" / "run.py"


def _run(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(RUN), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        start_new_session=True,
    )


def _healthy(url: str, run: subprocess.Popen[str]) -> bool:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and run.poll() is None:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return True
        except httpx.TransportError:
            time.sleep(0.2)
    return False


def test_a_taken_port_fails_fast_before_anything_is_created(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = _run("--port", str(port), "--data-dir", str(tmp_path / "pg"))
        out, err = run.communicate(timeout=60)
    assert run.returncode == 2 and f"port {port}" in err
    assert "pbk_" not in out and not (tmp_path / "pg").exists()


def test_prints_the_database_url_and_stops_its_postgres(tmp_path: Path) -> None:
    port, data = _free_port(), tmp_path / "pg"
    run = _run("--port", str(port), "--workers", "1", "--data-dir", str(data))
    assert run.stdout is not None
    lines = [run.stdout.readline() for _ in range(3)]
    database = next(line for line in lines if line.startswith("database: "))
    assert "postgresql://" in database and ":***@" in database and "stopped with this script" in database
    assert EmbeddedServer(data).is_running()
    assert _healthy(f"http://127.0.0.1:{port}/healthz", run)
    os.killpg(run.pid, signal.SIGTERM)
    assert run.wait(timeout=90) == 0
    assert not EmbeddedServer(data).is_running()
