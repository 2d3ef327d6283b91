"""Reviewing an onboarding on a cloud without credentials: the infrastructure under mocks, the database
layer's resources listed, the price given, and nothing recorded. Also through the CLI (``--dry-run``)."""

from __future__ import annotations

import json

import pytest
import yaml
from typer.testing import CliRunner

from paybill_infra.cli import app
from paybill_infra.controlplane import ControlPlane
from paybill_infra.schema.enums import Cloud
from tests.targets.conftest import PLATFORM, REGIONS, Fleet
from tests.targets.test_every_cloud import KEY, SERVER

pytestmark = [pytest.mark.engine]

PLANS = {"pooled": "starter", "bridge": "growth", "silo": "enterprise"}
ROLE = "pulumi-python:dynamic/postgres:LoginRole"
TENANT_DATA = {
    "pooled": "pulumi-python:dynamic/postgres:PooledMembership",
    "bridge": "pulumi-python:dynamic/postgres:BridgeSchema",
    "silo": "pulumi-python:dynamic/postgres:SiloDatabase",
}


@pytest.mark.parametrize("cloud", [Cloud.AWS, Cloud.AZURE, Cloud.GCP, Cloud.OCI, Cloud.IBM])
@pytest.mark.parametrize("isolation", ["pooled", "bridge", "silo"])
def test_offline_review_lists_each_stacks_resources(plane: ControlPlane, cloud: Cloud, isolation: str) -> None:
    slug = f"rv{cloud.value}{isolation}"
    review = plane.preview_onboard(
        {"slug": slug, "display_name": "Review", "plan": PLANS[isolation], "cloud": cloud.value}, offline=True
    )
    region = REGIONS[cloud][0]
    stacks = {s.stack: s for s in review.stacks}
    platform, tenant = f"{cloud.value}-{region}-platform", review.stacks[-1]
    assert platform in stacks, "the region's platform does not exist yet: it is part of the review"
    assert {r.op for s in review.stacks for r in s.resources} == {"create"}
    platform_types = {r.type for r in stacks[platform].resources}
    shared_server = "aws:rds/cluster:Cluster" if cloud is Cloud.AWS else SERVER[cloud]
    assert {KEY[cloud], shared_server, "pulumi-python:dynamic/postgres:SharedPlatform"} <= platform_types
    types = {r.type for r in tenant.resources}
    assert {ROLE, TENANT_DATA[isolation]} <= types, types
    if isolation == "silo":
        assert {KEY[cloud], SERVER[cloud]} <= types, "a silo has its own key and server"
    if isolation == "pooled":
        assert not {KEY[cloud], SERVER[cloud]} & types, "a pooled tenant adds no key and no server"
    assert all(r.name for r in tenant.resources)
    assert review.monthly_price_to > 0 and review.from_plan is None
    assert plane.operations(slug) == [] and slug not in {t.slug for t in plane.tenants()}
    assert plane.status().stacks == ()


def test_cli_dry_run_prints_the_plan_as_json(fleet: Fleet) -> None:
    settings = {
        "control_plane": {
            "targets": {"local": {}, "azure": {"region": "westeurope", "platform": PLATFORM[Cloud.AZURE]}},
        }
    }
    (fleet.root / "paybill.yaml").write_text(yaml.safe_dump(settings))
    result = CliRunner().invoke(
        app,
        [
            *("tenants", "onboard", "clireview", "--plan", "enterprise", "--cloud", "azure", "--dry-run", "--json"),
            *("--root", str(fleet.root)),
        ],
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    stacks = {s["stack"]: {r["type"] for r in s["resources"]} for s in document["stacks"]}
    assert SERVER[Cloud.AZURE] in stacks["azure-westeurope-tenant-clireview-silo"]
    assert document["to_plan"] == "enterprise" and document["monthly_price_delta"] == "2000.00"
    listed = CliRunner().invoke(app, ["tenants", "list", "--json", "--root", str(fleet.root)])
    assert "clireview" not in listed.stdout, "a dry run registers nothing"
