"""The component package: its schema lists every hosted component, and a hosted tenant builds from plain data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness import run_program
from pulumi.provider.experimental.component import ComponentProvider

from paybill_infra.clouds.package import PACKAGE, hosted_components
from paybill_infra.contract import TENANT_OUTPUTS

ROOT = Path(__file__).resolve().parents[2]


def test_schema_lists_every_component() -> None:
    provider = ComponentProvider(hosted_components(), PACKAGE, "paybill", "0.1.0")
    schema = json.loads(provider.schema or "{}")
    clouds = ("Aws", "Azure", "Gcp", "Oci", "Ibm")
    assert set(schema["resources"]) == {f"paybill:index:{c}{k}" for c in clouds for k in ("Platform", "Tenant")}
    tenant = schema["resources"]["paybill:index:AwsTenant"]
    assert set(tenant["inputProperties"]) == {"spec", "pool"}
    assert {"dbPassword", "tenantId", "networkId", "keyId"} <= set(tenant["properties"])
    assert "paybill:index:TenantSpec" in schema["types"]


def test_components_directory_is_not_a_python_package() -> None:
    assert (ROOT / "components" / "PulumiPlugin.yaml").is_file()
    assert not (ROOT / "components" / "__init__.py").exists()


def test_hosted_tenant_builds_from_plain_data() -> None:
    hosted = {cls.__name__: cls for cls in hosted_components()}

    pool = {  # what another language sends: the platform's ``pool`` output, resolved
        "name": "pool-eu",
        "region": "eu-west-1",
        "zones": ["eu-west-1a", "eu-west-1b"],
        "isolations": ["pooled", "bridge"],
        "vpc_id": "vpc-1",
        "vpc_cidr": "10.40.0.0/16",
        "subnet_ids": ["subnet-a", "subnet-b"],
        "db_subnet_group": "pb-pool-eu",
        "db_security_group_id": "sg-1",
        "cluster_resource_id": "cluster-1",
        "db_host": "pool.cluster.internal",
        "db_port": 5432,
        "database": "paybill",
        "key_arn": "arn:aws:kms:eu-west-1:123456789012:key/1",
    }
    spec = {"tenant": "acme", "display_name": "Acme", "plan": "growth", "tier": 20, "isolation": "bridge"}

    def program() -> dict[str, Any]:
        hosted["AwsPlatform"]("pool", {"name": "pool-eu", "region": "eu-west-1"})
        tenant = hosted["AwsTenant"]("acme", {"spec": spec, "pool": pool})
        return {"tenant_id": tenant.tenant_id, "network_id": tenant.network_id}

    run = run_program(program)
    assert run.outputs == {"tenant_id": "acme", "network_id": "vpc-1"}
    assert {
        "paybill:index:AwsPlatform",
        "paybill:aws:Platform",
        "paybill:index:AwsTenant",
        "paybill:aws:BridgeTenant",
    } <= run.types()
    hosted_tenant = next(r for r in run.resources if r.type == "paybill:aws:Tenant")
    assert hosted_tenant.parent_types == ("paybill:index:AwsTenant",)
    assert set(TENANT_OUTPUTS) <= set(vars(hosted["AwsTenant"]).get("__annotations__", {}))
