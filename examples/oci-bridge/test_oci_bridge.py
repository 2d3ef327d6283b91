"""The oci-bridge program under mocks: ``pytest`` in this folder, no cloud account or credentials needed."""

import runpy
from pathlib import Path

import pulumi

from paybill_infra.contract import TENANT_OUTPUTS
from paybill_infra.testing import run_program

CONFIG = {
    "oci:region": "eu-amsterdam-1",
    "oci:tenancyOcid": "ocid1.tenancy.oc1..x",
    "paybill:compartmentOcid": "ocid1.compartment.oc1..y",
}
REGION = CONFIG["oci:region"]


def test_builds_a_bridge_tenant_in_the_configured_region() -> None:
    def program() -> None:
        pulumi.runtime.set_all_config(CONFIG)
        runpy.run_path(str(Path(__file__).with_name("__main__.py")), run_name="__main__")

    run = run_program(program)
    [tenant] = run.of_type("paybill:oci:BridgeTenant")
    assert tenant.parent_types == ("paybill:oci:Tenant",)
    [provider] = run.of_type("pulumi:providers:oci")
    assert provider.inputs["region"] == REGION
    contract = run.outputs["tenant"]
    assert set(contract) == set(TENANT_OUTPUTS)
    assert (contract["tenant_id"], contract["isolation"]) == ("acme", "bridge")
    assert run.secret["tenant"]
