"""Control-plane fixtures: a throw-away project root per test module, with its own registry (SQLite),
file state backend and embedded PostgreSQL, driven by the real Pulumi engine."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from paybill_infra.controlplane import ControlPlane, ControlPlaneSettings
from paybill_infra.local.server import EmbeddedServer

CATALOG = {
    "plans": [
        {
            "name": "starter",
            "tier": 10,
            "isolation": "pooled",
            "limits": {"seats": 5, "storage_gb": 5},
            "price": {"amount": "29.00", "currency": "USD"},
            "billing_id": "price_starter",
            "pool_capacity": 4,
        },
        {
            "name": "team",
            "tier": 15,
            "isolation": "pooled",
            "limits": {"seats": 20, "storage_gb": 20},
            "price": {"amount": "99.00", "currency": "USD"},
            "billing_id": "price_team",
            "pool_capacity": 50,
        },
        {
            "name": "growth",
            "tier": 20,
            "isolation": "bridge",
            "limits": {"seats": 50, "storage_gb": 50, "database_size": "medium"},
            "price": {"amount": "299.00", "currency": "USD"},
            "billing_id": "price_growth",
        },
        {
            "name": "enterprise",
            "tier": 30,
            "isolation": "silo",
            "limits": {"storage_gb": 500, "database_size": "large"},
            "price": {"amount": "24000.00", "currency": "USD", "interval": "year"},
            "billing_id": "price_enterprise",
        },
    ]
}


class Env:
    """One project root: settings, the embedded server, and raw SQL helpers for assertions."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "plans.yaml").write_text(yaml.safe_dump(CATALOG))
        self.server = EmbeddedServer(root / ".paybill" / "postgres")
        self.settings = ControlPlaneSettings(root=root, workers=4, lease_ttl_s=10)

    def plane(self, **kwargs: Any) -> ControlPlane:
        return ControlPlane(self.settings, **kwargs)

    def query(self, sql: str, *params: object, dbname: str = "postgres") -> list[tuple[Any, ...]]:
        with psycopg.connect(self.server.ensure_running().conninfo(dbname), autocommit=True) as conn:
            cur = conn.execute(sql, params or None)
            return cur.fetchall() if cur.description else []


@pytest.fixture(scope="module")
def env(engine_available: None) -> Iterator[Env]:
    """Outside pytest's own temp root on purpose: every pytest session on the machine resets
    ``/tmp/pytest-of-<user>`` to mode 0700, which locks the embedded server's system user out of its data
    directory mid-test when sessions overlap."""
    root = Path(tempfile.mkdtemp(prefix="paybill-cp-"))
    environment = Env(root)
    yield environment
    environment.server.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def plane(env: Env) -> Iterator[ControlPlane]:
    with env.plane() as control_plane:
        yield control_plane


Factory = Callable[..., ControlPlane]


def paybill(env: Env, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the ``paybill`` CLI of this venv on ``env``'s project, as a user's shell would (no terminal)."""
    return subprocess.run(
        [str(Path(sys.executable).parent / "paybill"), *args, "--root", str(env.root)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        stdin=subprocess.DEVNULL,
    )
