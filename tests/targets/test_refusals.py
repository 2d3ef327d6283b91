"""Bad requests on cloud targets: each a typed error raised before any engine run, nothing recorded."""

from __future__ import annotations

import builtins
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from paybill_infra.clouds.errors import CloudSdkMissingError
from paybill_infra.controlplane import ControlPlane, ControlPlaneSettings, TenantState
from paybill_infra.errors import (
    EndpointUnreachableError,
    OperationFailedError,
    TargetError,
    TopologyError,
    UnknownTargetError,
)
from paybill_infra.schema.enums import Cloud, Isolation
from paybill_infra.targets import MockInfraRunner, TargetSettings, target_for
from paybill_infra.testing import DatabaseStandIn
from tests.controlplane.conftest import CATALOG
from tests.targets.conftest import Fleet

pytestmark = [pytest.mark.engine, pytest.mark.postgres]


def test_region_not_allowed(plane: ControlPlane) -> None:
    with pytest.raises(TopologyError, match="unknown region 'ap-south-1'"):
        plane.onboard(
            {"slug": "faraway", "display_name": "Far", "plan": "starter", "cloud": "aws", "region": "ap-south-1"}
        )
    assert plane.operations("faraway") == []
    assert any(e.action == "onboard.rejected" for e in plane.audit_log("faraway"))


def test_unconfigured_cloud(fleet: Fleet) -> None:
    settings = fleet.settings.model_copy(update={"targets": {Cloud.LOCAL: TargetSettings()}})
    with (
        ControlPlane(settings, infra=fleet.infra, recover=False) as local_only,
        pytest.raises(UnknownTargetError, match="no target 'aws' is configured; configured: local"),
    ):
        local_only.onboard({"slug": "nocloud", "display_name": "No", "plan": "starter", "cloud": "aws"})


def test_cloud_that_offers_no_such_isolation(fleet: Fleet) -> None:
    targets = {**fleet.settings.targets, Cloud.IBM: TargetSettings(region="eu-de", isolations=(Isolation.SILO,))}
    with ControlPlane(fleet.settings.model_copy(update={"targets": targets}), infra=fleet.infra, recover=False) as p:
        with pytest.raises(TopologyError, match="needs pooled isolation, which ibm does not offer"):
            p.onboard({"slug": "nopool", "display_name": "No pool", "plan": "starter", "cloud": "ibm"})
        assert p.operations("nopool") == []


def test_missing_sdk_extra_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def without_oci(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "pulumi_oci" or name.startswith("pulumi_oci."):
            raise ImportError(f"No module named '{name}'")
        return real_import(name, *args, **kwargs)

    for module in [m for m in sys.modules if m.startswith(("pulumi_oci", "paybill_infra.clouds.oci"))]:
        monkeypatch.delitem(sys.modules, module)
    monkeypatch.setattr(builtins, "__import__", without_oci)
    with pytest.raises(CloudSdkMissingError, match=r"pip install 'paybill-infra\[oci\]'"):
        target_for(Cloud.OCI, TargetSettings(platform={"tenancy_ocid": "t", "parent_compartment_id": "c"}))


def test_bad_target_settings() -> None:
    with pytest.raises(TargetError, match=r"settings\.platform needs subscription_id, entra_tenant_id"):
        target_for(Cloud.AZURE, TargetSettings())
    with pytest.raises(TargetError, match="unknown region"):
        target_for(Cloud.GCP, TargetSettings(region="mars-north-1", platform={"project": "p"}))
    with pytest.raises(TargetError, match=r"settings\.platform: .*unexpected keyword argument 'vpc_size'"):
        target_for(Cloud.AWS, TargetSettings(platform={"vpc_size": "large"}))


class Nobody:
    """Stands an address no server listens on in for every managed server (picklable: it goes to the mock
    runner's worker process)."""

    def __call__(self, cloud: Cloud, region: str, owner: str) -> DatabaseStandIn:
        return DatabaseStandIn(host="127.0.0.1", port=9, password="nobody-listens")


@pytest.fixture
def unreachable(engine_available: None) -> Iterator[tuple[ControlPlane, MockInfraRunner]]:
    """A cloud whose database endpoint nothing answers on."""
    root = Path(tempfile.mkdtemp(prefix="paybill-unreachable-"))
    (root / "plans.yaml").write_text(yaml.safe_dump(CATALOG))
    infra = MockInfraRunner(root / "mock", Nobody())
    settings = ControlPlaneSettings(
        root=root, targets={Cloud.LOCAL: TargetSettings(), Cloud.AWS: TargetSettings(sslmode="disable")}
    )
    with ControlPlane(settings, infra=infra) as plane:
        yield plane, infra
    shutil.rmtree(root, ignore_errors=True)


def test_unreachable_endpoint_rolls_back(unreachable: tuple[ControlPlane, MockInfraRunner]) -> None:
    plane, infra = unreachable
    with pytest.raises(OperationFailedError) as caught:
        plane.onboard({"slug": "offline", "display_name": "Off", "plan": "enterprise", "cloud": "aws"})
    assert isinstance(caught.value.__cause__, EndpointUnreachableError)
    assert "127.0.0.1:9 is unreachable" in str(caught.value)
    assert plane.show("offline").state is TenantState.FAILED
    assert plane.status().stacks == ()
    assert not any(infra.exists(p.name.removesuffix(".json")) for p in (infra.state_dir.glob("*.json"))), "rolled back"
