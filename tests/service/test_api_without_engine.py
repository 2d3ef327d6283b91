"""The API process needs no engine: with no ``pulumi`` binary to be found (none on ``PATH``, an empty
project cache, no ``PAYBILL_PULUMI_BIN``) it serves reads from the registry and queues writes, rollouts
included (their waves are planned in the API process, which never looks for the CLI)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from paybill_infra.controlplane import TenantState
from paybill_infra.controlplane.reader import RegistryReader
from paybill_infra.controlplane.registry import SubscriptionRow, TenantRow
from paybill_infra.engine.binary import BIN_ENV
from paybill_infra.schema.enums import Cloud, Isolation, SubscriptionStatus
from tests.service.conftest import Service

pytestmark = [pytest.mark.postgres]


def test_reads_and_queued_writes_without_pulumi(service_factory: Callable[[str], Service], tmp_path: Path) -> None:
    svc = service_factory("nopulumi")
    with RegistryReader(svc.settings.control_plane()) as reader, reader.registry.transaction() as session:
        session.add(
            TenantRow(
                slug="steady",
                display_name="Steady",
                plan="starter",
                isolation=Isolation.POOLED,
                cloud=Cloud.LOCAL,
                region="local",
                state=TenantState.ACTIVE,
                generation=0,
            )
        )
        session.add(SubscriptionRow(tenant="steady", plan="starter", status=SubscriptionStatus.ACTIVE))
    path = os.pathsep.join(p for p in svc.env["PATH"].split(os.pathsep) if not shutil.which("pulumi", path=p))
    assert shutil.which("pulumi", path=path) is None
    svc.env = {k: v for k, v in svc.env.items() if k != BIN_ENV} | {
        "PATH": path,
        "PAYBILL_CACHE_DIR": str(tmp_path / "empty-cache"),
    }
    svc.start_api()
    with svc.platform() as http:
        assert [t["slug"] for t in http.get("/tenants").json()] == ["steady"]
        assert http.get("/tenants/steady").json()["state"] == "active"
        assert http.get("/ops/summary").status_code == 200
        suspend = http.post("/tenants/steady/suspend")
        onboard = http.post("/tenants", json={"slug": "fresh", "display_name": "Fresh", "plan": "starter"})
        rollout = http.post("/rollouts", json={"kind": "infra", "waves": "100%"})  # planned in this process
    assert (suspend.status_code, suspend.json()["status"]) == (202, "queued"), suspend.text
    assert (onboard.status_code, onboard.json()["status"]) == (202, "queued"), onboard.text
    assert (rollout.status_code, rollout.json()["status"]) == (202, "queued"), rollout.text
    assert "pulumi" not in svc.log("api").lower()
