"""Fixtures for the multi-target control plane: every cloud's infrastructure under mocks, the database layer
on the real engine, and one real PostgreSQL per managed database server (a region's platform, a silo
tenant's own...) standing in for it: the mocks report its host, port and password as that server's outputs."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from psycopg import sql

from paybill_infra.controlplane import ControlPlane, ControlPlaneSettings
from paybill_infra.local.server import AdminConnection, EmbeddedServer
from paybill_infra.schema.enums import Cloud
from paybill_infra.targets import MockInfraRunner, TargetSettings
from paybill_infra.testing import DatabaseStandIn
from tests.controlplane.conftest import CATALOG

ADMINS = ("paybill_admin", "admin")
"""The administrator logins the clouds' components use (Cloud SQL's is ``postgres``, the server's own)."""

PLATFORM = {
    Cloud.AZURE: {
        "subscription_id": "00000000-0000-0000-0000-000000000001",
        "entra_tenant_id": "00000000-0000-0000-0000-000000000002",
    },
    Cloud.GCP: {"project": "paybill-prod"},
    Cloud.OCI: {"tenancy_ocid": "ocid1.tenancy.oc1..aaaa", "parent_compartment_id": "ocid1.compartment.oc1..bbbb"},
}
REGIONS = {
    Cloud.AWS: ("eu-west-1", "eu-central-1"),
    Cloud.AZURE: ("westeurope",),
    Cloud.GCP: ("europe-west1",),
    Cloud.OCI: ("eu-frankfurt-1",),
    Cloud.IBM: ("eu-de",),
}


class StandIns:
    """One embedded PostgreSQL per server (cloud, region, owner: ``platform`` or a tenant's slug), started on
    first use, with the clouds' admin logins.

    Plain data (a directory), so the mock runner's worker process can use a copy: servers are found and
    started by their data directories (the embedded server's own file lock makes that safe across
    processes), and the admin logins are created idempotently."""

    def __init__(self, base: Path) -> None:
        self.base = base

    def __call__(self, cloud: Cloud, region: str, owner: str) -> DatabaseStandIn:
        admin = self.admin(cloud, region, owner)
        return DatabaseStandIn(admin.host, admin.port, admin.password)

    @property
    def servers(self) -> list[tuple[Cloud, str, str]]:
        """(cloud, region, owner) of every server started so far, by any process."""
        found = []
        for path in sorted(self.base.glob("*")) if self.base.exists() else []:
            cloud, _, rest = path.name.partition("~")
            region, _, owner = rest.partition("~")
            found.append((Cloud(cloud), region, owner))
        return found

    def admin(self, cloud: Cloud, region: str, owner: str = "platform") -> AdminConnection:
        admin = EmbeddedServer(self.base / f"{cloud.value}~{region}~{owner}").ensure_running(isolated=True)
        with psycopg.connect(admin.conninfo("postgres"), autocommit=True) as conn:
            existing = {
                r[0] for r in conn.execute("SELECT rolname FROM pg_roles WHERE rolname = ANY(%s)", (list(ADMINS),))
            }
            for role in set(ADMINS) - existing:
                conn.execute(
                    sql.SQL("CREATE ROLE {} LOGIN SUPERUSER PASSWORD {}").format(
                        sql.Identifier(role), sql.Literal(admin.password)
                    )
                )
        return admin

    def query(
        self, cloud: Cloud, region: str, statement: str, *params: Any, dbname: str = "postgres", owner: str = "platform"
    ) -> list[Any]:
        with psycopg.connect(self.admin(cloud, region, owner).conninfo(dbname), autocommit=True) as conn:
            cur = conn.execute(statement, params or None)  # type: ignore[call-overload]
            return cur.fetchall() if cur.description else []

    def stop(self) -> None:
        for path in self.base.glob("*") if self.base.exists() else []:
            EmbeddedServer(path).stop()


class Fleet:
    """A project root with a control plane configured for the local target and all five clouds."""

    def __init__(self, root: Path, stand_ins: StandIns) -> None:
        self.root = root
        self.stand_ins = stand_ins
        (root / "plans.yaml").write_text(yaml.safe_dump(CATALOG))
        targets = {Cloud.LOCAL: TargetSettings()}
        for cloud, regions in REGIONS.items():
            targets[cloud] = TargetSettings(
                region=regions[0], allowed_regions=regions, sslmode="prefer", platform=PLATFORM.get(cloud, {})
            )
        self.settings = ControlPlaneSettings(root=root, workers=4, lease_ttl_s=10, targets=targets)
        self.infra = MockInfraRunner(root / ".paybill" / "mock-infra", stand_ins)

    def plane(self, **kwargs: Any) -> ControlPlane:
        return ControlPlane(self.settings, infra=self.infra, **kwargs)


@pytest.fixture(scope="module")
def fleet(engine_available: None) -> Iterator[Fleet]:
    """Outside pytest's own temp root (see ``server_scratch``)."""
    root = Path(tempfile.mkdtemp(prefix="paybill-targets-"))
    stand_ins = StandIns(root / "servers")
    environment = Fleet(root, stand_ins)
    yield environment
    stand_ins.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def plane(fleet: Fleet) -> Iterator[ControlPlane]:
    with fleet.plane() as control_plane:
        yield control_plane
