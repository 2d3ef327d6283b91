"""Run the product backend locally, in one command: ``.venv/bin/python examples/backend/run.py``.

It first checks that the port is free (and stops there if not: no key is created). Then it starts (or reuses)
the embedded PostgreSQL under ``.paybill/backend/postgres``, creates the service's database, prints its URL
(password masked) and a platform-admin API key, and runs the API on http://127.0.0.1:8000 with two workers as
separate processes, exactly as they would run on separate machines. Ctrl-C (or SIGTERM) stops them all (workers
finish their running operations first) and then the PostgreSQL it started (``--keep-postgres`` leaves it
running; ``--stop-postgres`` stops one left running).
The exit code is non-zero when the API or a worker died on its own.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psycopg
from psycopg import sql
from pydantic import SecretStr

from paybill_infra.local.server import EmbeddedServer
from paybill_infra.service import Role, ServiceSettings, Store, create_api_key
from paybill_infra.service.migrate import migrate

REPO = Path(__file__).resolve().parents[2]
DATABASE = "paybill_service"


def _interrupt(_signum: int, _frame: object) -> None:
    """SIGTERM stops everything like Ctrl-C does."""
    raise KeyboardInterrupt


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _masked(url: str) -> str:
    return re.sub(r"^(postgresql://[^:/@]*:)[^@]*@", r"\1***@", url)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--data-dir", type=Path, default=REPO / ".paybill" / "backend" / "postgres")
    parser.add_argument("--keep-postgres", action="store_true", help="leave the PostgreSQL running on exit")
    parser.add_argument("--stop-postgres", action="store_true", help="stop a PostgreSQL left running, and exit")
    args = parser.parse_args()
    if args.stop_postgres:
        sys.stdout.write("stopped\n" if EmbeddedServer(args.data_dir).stop() else "not running\n")
        return 0
    if not _port_free(args.port):
        sys.stderr.write(f"error: port {args.port} on 127.0.0.1 is in use; pick another with --port\n")
        return 2

    server = EmbeddedServer(args.data_dir)
    started_here = not server.is_running()
    admin = server.ensure_running()
    with psycopg.connect(admin.conninfo("postgres"), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))
    os.environ |= {
        "PAYBILL_PG_URL": admin.url("postgres"),
        "PAYBILL_SERVICE_ROOT": str(REPO),
        "PAYBILL_SERVICE_DATABASE_URL": admin.url(DATABASE),
        "PAYBILL_SERVICE_JWT_SECRET": os.environ.get("PAYBILL_SERVICE_JWT_SECRET", "local-dev-jwt-secret-change-me"),
        "PAYBILL_SERVICE_WEBHOOK_SECRET": os.environ.get("PAYBILL_SERVICE_WEBHOOK_SECRET", "local-dev-webhook-secret"),
    }
    env = dict(os.environ)  # the API and the workers read the same variables
    settings = ServiceSettings.from_env()
    migrate(settings)
    store = Store.connect(settings.sqlalchemy_url())
    key: SecretStr = create_api_key(store, "local-operator", Role.PLATFORM_ADMIN)
    store.close()

    def spawn(*argv: str) -> subprocess.Popen[bytes]:
        command = [sys.executable, "-m", "paybill_infra.service", *argv]
        return subprocess.Popen(command, env=env, cwd=REPO, start_new_session=True)  # noqa: S603 - our own module

    processes = [spawn("worker", "--name", f"worker-{i}") for i in range(1, args.workers + 1)]
    processes.append(spawn("api", "--port", str(args.port)))
    stop_hint = (
        "stopped with this script"
        if started_here and not args.keep_postgres
        else f"left running; stop it with: {Path(sys.argv[0]).name} --stop-postgres --data-dir {args.data_dir}"
    )
    sys.stdout.write(
        f"\ndatabase: {_masked(admin.url(DATABASE))} (PostgreSQL in {args.data_dir}, {stop_hint})\n"
        f"API: http://127.0.0.1:{args.port}/docs   ops console: http://127.0.0.1:{args.port}/ops\n"
        f"platform-admin API key (shown once): {key.get_secret_value()}\n"
        f"try: curl -H 'Authorization: Bearer <key>' http://127.0.0.1:{args.port}/tenants\n\n"
    )
    sys.stdout.flush()
    signal.signal(signal.SIGTERM, _interrupt)
    died = False
    try:
        while all(p.poll() is None for p in processes):
            time.sleep(1)
        died = True
    except KeyboardInterrupt:
        pass
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            process.wait()
        if started_here and not args.keep_postgres:
            server.stop()
    return 1 if died else 0


if __name__ == "__main__":
    sys.exit(main())
