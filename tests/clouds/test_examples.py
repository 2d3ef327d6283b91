"""Every ``examples/<cloud>-<topology>`` program runs under the suite's mocks and builds its tenant."""

from __future__ import annotations

import runpy
from pathlib import Path
from typing import Any

import pulumi
import pytest
from harness import run_program

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CASES = {
    "aws-silo": ("paybill:aws:SiloTenant", {}),
    "azure-bridge": (
        "paybill:azure:BridgeTenant",
        {"paybill:subscriptionId": "00000000-0000-0000-0000-000000000001", "paybill:entraTenantId": "tenant"},
    ),
    "gcp-pooled": ("paybill:gcp:PooledTenant", {"paybill:project": "paybill-example"}),
    "oci-bridge": (
        "paybill:oci:BridgeTenant",
        {"paybill:tenancyOcid": "ocid1.tenancy.oc1..x", "paybill:compartmentOcid": "ocid1.compartment.oc1..y"},
    ),
    "ibm-silo": ("paybill:ibm:SiloTenant", {}),
}


def test_examples_cover_every_cloud_and_topology() -> None:
    found = {p.parent.name for p in EXAMPLES.glob("*-*/Pulumi.yaml") if p.parent.name in CASES}
    assert found == set(CASES)
    assert {name.split("-")[1] for name in CASES} == {"silo", "pooled", "bridge"}


@pytest.mark.parametrize("example", sorted(CASES))
def test_example_runs_under_mocks(example: str) -> None:
    component, config = CASES[example]

    def program() -> dict[str, Any]:
        pulumi.runtime.set_all_config(config)
        runpy.run_path(str(EXAMPLES / example / "__main__.py"), run_name="__main__")
        return {}

    run = run_program(program)
    assert component in run.types()
    tenant = run.of_type(component)[0]
    assert tenant.parent_types == (f"paybill:{example.split('-')[0]}:Tenant",)
