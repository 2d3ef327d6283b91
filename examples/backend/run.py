"""Run the product backend locally, in one command: ``.venv/bin/python examples/backend/run.py``.

It starts (or reuses) the embedded PostgreSQL under ``.paybill/backend/postgres``, creates the service's
database, prints a platform-admin API key, and runs the API on http://127.0.0.1:8000 with two workers as
separate processes, exactly as they would run on separate machines. Ctrl-C (or SIGTERM) stops them all (workers
finish their running operations first).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
from psycopg import sql
from pydantic import SecretStr

from paybill_infra.local.server import EmbeddedServer
from paybill_infra.service import Role, ServiceSettings, Store, create_api_key
from paybill_infra.service.queue import queue_schema

REPO = Path(__file__).resolve().parents[2]
DATABASE = "paybill_service"


def _interrupt(_signum: int, _frame: object) -> None:
    """SIGTERM stops everything like Ctrl-C does."""
    raise KeyboardInterrupt


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    admin = EmbeddedServer(REPO / ".paybill" / "backend" / "postgres").ensure_running()
    with psycopg.connect(admin.conninfo("postgres"), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))
    env = {
        **os.environ,
        "PAYBILL_PG_URL": admin.url("postgres"),
        "PAYBILL_SERVICE_ROOT": str(REPO),
        "PAYBILL_SERVICE_DATABASE_URL": admin.url(DATABASE),
        "PAYBILL_SERVICE_JWT_SECRET": os.environ.get("PAYBILL_SERVICE_JWT_SECRET", "local-dev-jwt-secret-change-me"),
        "PAYBILL_SERVICE_WEBHOOK_SECRET": os.environ.get("PAYBILL_SERVICE_WEBHOOK_SECRET", "local-dev-webhook-secret"),
    }
    settings = ServiceSettings.from_env(env)
    store = Store.connect(settings.sqlalchemy_url())
    store.create_schema(queue_schema())
    key: SecretStr = create_api_key(store, "local-operator", Role.PLATFORM_ADMIN)
    store.close()

    def spawn(*argv: str) -> subprocess.Popen[bytes]:
        command = [sys.executable, "-m", "paybill_infra.service", *argv]
        return subprocess.Popen(command, env=env, cwd=REPO, start_new_session=True)  # noqa: S603 - our own module

    processes = [spawn("worker", "--name", f"worker-{i}") for i in range(1, args.workers + 1)]
    processes.append(spawn("api", "--port", str(args.port)))
    sys.stdout.write(
        f"\nAPI: http://127.0.0.1:{args.port}/docs   ops view: http://127.0.0.1:{args.port}/ops\n"
        f"platform-admin API key (shown once): {key.get_secret_value()}\n"
        f"try: curl -H 'Authorization: Bearer <key>' http://127.0.0.1:{args.port}/tenants\n\n"
    )
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        while all(p.poll() is None for p in processes):
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            process.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
