"""Service fixtures: the real HTTP server (uvicorn) on loopback, procrastinate on a real PostgreSQL, and
workers as separate processes driving the real engine on the local target.

One PostgreSQL (the session's ``pg_admin`` server) holds, per service stack, a database with the control
plane's registry, the queue and the service tables; the tenants' own databases live on the same server.
``main`` is the stack most modules share (an API and two workers); ``fuzz`` is an API without workers,
for schemathesis (whatever it queues is never run).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import yaml
from pydantic import SecretStr

from paybill_infra.controlplane.models import TERMINAL_STATUSES
from paybill_infra.local.server import AdminConnection, EmbeddedServer
from paybill_infra.service import Role, ServiceSettings, Store, create_api_key, issue_token
from paybill_infra.service.migrate import migrate
from tests.controlplane.conftest import CATALOG

JWT_SECRET = "test-jwt-secret-0123456789abcdef"
WEBHOOK_SECRET = "test-webhook-secret-0123456789"
TERMINAL = {s.value for s in TERMINAL_STATUSES}
REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Service:
    """One deployment: a project root, a database, the API process and any number of worker processes."""

    def __init__(self, root: Path, admin: AdminConnection, database: str) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        (root / "plans.yaml").write_text(yaml.safe_dump(CATALOG))
        with psycopg.connect(admin.conninfo("postgres"), autocommit=True) as conn:
            conn.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(database)))
        self.admin = admin
        self.database_url = admin.url(database)
        self.settings = ServiceSettings(
            root=root,
            database_url=SecretStr(self.database_url),
            jwt_secret=SecretStr(JWT_SECRET),
            webhook_secret=SecretStr(WEBHOOK_SECRET),
        )
        self.env = {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "PAYBILL_PG_URL": admin.url("postgres"),
            "PAYBILL_SERVICE_ROOT": str(root),
            "PAYBILL_SERVICE_DATABASE_URL": self.database_url,
            "PAYBILL_SERVICE_JWT_SECRET": JWT_SECRET,
            "PAYBILL_SERVICE_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "PAYBILL_SERVICE_WORKER_CONCURRENCY": "8",
            "PAYBILL_SERVICE_ENGINE_WORKERS": "2",
            "PAYBILL_SERVICE_LEASE_TTL_S": "10",
            "PAYBILL_SERVICE_HEARTBEAT_S": "1",
            "PAYBILL_SERVICE_STALLED_AFTER_S": "4",
            "PAYBILL_SERVICE_SWEEP_INTERVAL_S": "2",
            "PAYBILL_SERVICE_BILLING_CRON": "* * * * * *",  # every second (tests/service/test_billing_schedule.py)
        }
        migrate(self.settings)
        self.store = Store.connect(self.settings.sqlalchemy_url())
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.api: subprocess.Popen[bytes] | None = None
        self.workers: dict[str, subprocess.Popen[bytes]] = {}
        self.platform_key = create_api_key(self.store, "root", Role.PLATFORM_ADMIN).get_secret_value()

    def _spawn(self, *args: str, log: str) -> subprocess.Popen[bytes]:
        out = (self.root / f"{log}.log").open("ab")
        return subprocess.Popen(
            [sys.executable, "-m", "paybill_infra.service", *args],
            env=self.env,
            cwd=self.root,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def start_api(self) -> None:
        self.api = self._spawn("api", "--port", str(self.port), log="api")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.api.poll() is not None:
                raise RuntimeError(f"the API exited: {self.log('api')[-3000:]}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"the API did not start: {self.log('api')[-3000:]}")

    def start_worker(self, name: str) -> subprocess.Popen[bytes]:
        self.workers[name] = self._spawn("worker", "--name", name, log=name)
        return self.workers[name]

    def log(self, name: str) -> str:
        path = self.root / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        processes = [p for p in (self.api, *self.workers.values()) if p is not None]
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        self.store.close()

    # --- client helpers --------------------------------------------------------------------------------

    def client(self, credential: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {credential}"} if credential else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def platform(self) -> httpx.Client:
        return self.client(self.platform_key)

    def tenant_key(self, tenant: str) -> str:
        return create_api_key(self.store, f"admin-{tenant}", Role.TENANT_ADMIN, tenant=tenant).get_secret_value()

    def token(self, role: Role, *, tenant: str | None = None, secret: str = JWT_SECRET, **kwargs: Any) -> str:
        return issue_token(
            SecretStr(secret), "jwt-user", role, issuer="paybill", audience="paybill-api", tenant=tenant, **kwargs
        ).get_secret_value()

    def wait(self, operation_id: str, timeout: float = 240) -> dict[str, Any]:
        """Poll ``GET /operations/{id}`` until it is terminal."""
        deadline = time.monotonic() + timeout
        with self.platform() as http:
            while time.monotonic() < deadline:
                body: dict[str, Any] = http.get(f"/operations/{operation_id}").raise_for_status().json()
                if body["status"] in TERMINAL:
                    return body
                time.sleep(0.3)
        raise AssertionError(f"operation {operation_id} did not finish: {body}\n{self.logs_tail()}")

    def logs_tail(self) -> str:
        return "\n".join(f"--- {n}\n{self.log(n)[-2000:]}" for n in ("api", *self.workers))

    def query(self, statement: str | psycopg.sql.Composable, *params: object) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            cur = conn.execute(statement, params or None)  # type: ignore[arg-type]
            return cur.fetchall() if cur.description else []


@pytest.fixture(scope="session")
def service_factory(server_scratch: Path, pg_admin: AdminConnection) -> Iterator[Callable[[str], Service]]:
    made: list[Service] = []

    def make(name: str) -> Service:
        service = Service(server_scratch / f"svc-{name}", pg_admin, f"svc_{name}")
        made.append(service)
        return service

    yield make
    for service in made:
        service.stop()
    for service in made:
        shutil.rmtree(service.root, ignore_errors=True)


@pytest.fixture(scope="session")
def service(service_factory: Callable[[str], Service], engine_available: None) -> Service:
    """The shared deployment: an API and two workers."""
    svc = service_factory("main")
    svc.start_api()
    svc.start_worker("w1")
    svc.start_worker("w2")
    return svc


@pytest.fixture(scope="session")
def lone_service(server_scratch: Path, engine_available: None) -> Iterator[Service]:
    """A deployment with one worker: concurrent operations share its process (events, the browser console).
    It has a PostgreSQL server of its own: pools are named per plan, so two deployments that provision
    tenants must not share a server."""
    server = EmbeddedServer(server_scratch / "lone-pg")
    svc = Service(server_scratch / "svc-lone", server.ensure_running(), "svc_lone")
    try:
        svc.start_api()
        svc.start_worker("solo")
        yield svc
    finally:
        svc.stop()
        server.stop()
        shutil.rmtree(svc.root, ignore_errors=True)


def read_sse(http: httpx.Client, path: str) -> list[tuple[str, dict[str, Any]]]:
    """Read the Server-Sent Events stream at ``path`` to its end: ``(event, data)`` pairs, whatever line
    endings the server frames them with."""
    frames: list[tuple[str, dict[str, Any]]] = []
    with http.stream("GET", path, timeout=300) as resp:
        assert resp.status_code == 200, resp.read()
        assert resp.headers["content-type"].startswith("text/event-stream")
        event = ""
        for line in resp.iter_lines():
            if line.startswith("event: "):
                event = line.removeprefix("event: ")
            elif line.startswith("data: "):
                frames.append((event, json.loads(line.removeprefix("data: "))))
    return frames
