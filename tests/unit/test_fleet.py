"""Stack fleet config: tenants validated as a whole before any resource is declared."""

from __future__ import annotations

from pathlib import Path

import pytest

from paybill_infra.catalog import load_catalog
from paybill_infra.errors import CatalogError, FleetConfigError
from paybill_infra.program import fleet_topologies

TENANTS = [
    {"slug": "acme", "name": "Acme", "plan": "enterprise"},
    {"slug": "globex", "name": "Globex", "plan": "growth"},
    {"slug": "initech", "name": "Initech", "plan": "starter"},
]


def topologies(repo_root: Path, **config: object) -> tuple[object, ...]:
    return fleet_topologies({"tenants": TENANTS, **config}, repo_root, "test")


def test_each_topology_is_resolved(repo_root: Path) -> None:
    result = topologies(repo_root)
    assert [(t.tenant, t.isolation.value) for t in result] == [  # type: ignore[attr-defined]
        ("acme", "silo"),
        ("globex", "bridge"),
        ("initech", "pooled"),
    ]


@pytest.mark.parametrize(
    ("tenants", "entry", "needle"),
    [
        ([{"slug": "Bad Slug", "name": "x", "plan": "starter"}], "tenants[0] 'Bad Slug'", "slug"),
        ([{"slug": "x'; drop role postgres; --", "name": "x", "plan": "starter"}], "tenants[0]", "slug"),
        ([{"slug": "acme", "name": "x", "plan": "platinum"}], "tenants[0] 'acme'", "unknown plan 'platinum'"),
        ([*TENANTS, {"slug": "acme", "name": "again", "plan": "starter"}], "tenants[3] 'acme'", "duplicate tenant"),
        ([{"slug": "acme", "plan": "starter"}], "tenants[0] 'acme'", "display_name"),
        ([{"slug": "acme", "name": "A", "plan": "starter", "region": "mars-1"}], "tenants[0] 'acme'", "unknown region"),
        ([{"slug": "acme", "name": "A", "plan": "starter", "cloud": "aws"}], "tenants[0] 'acme'", "this stack runs"),
        ("not-a-list", "", "expected a list"),
    ],
)
def test_bad_tenants_fail_before_any_resource(repo_root: Path, tenants: object, entry: str, needle: str) -> None:
    with pytest.raises(FleetConfigError) as info:
        fleet_topologies({"tenants": tenants}, repo_root, "test")
    assert info.value.entry.startswith(entry)
    assert needle in str(info.value)


def test_bad_settings_and_catalog(repo_root: Path, tmp_path: Path) -> None:
    with pytest.raises(FleetConfigError, match="cloud"):
        topologies(repo_root, cloud="mainframe")
    with pytest.raises(FleetConfigError, match="runs the local target"):
        topologies(repo_root, cloud="aws")
    (tmp_path / "plans.yaml").write_text("plans: {")
    with pytest.raises(CatalogError, match="not valid YAML"):
        fleet_topologies({"tenants": TENANTS}, tmp_path, "test")


def test_catalog_path_is_configurable(repo_root: Path, tmp_path: Path) -> None:
    (tmp_path / "alt.yaml").write_text((repo_root / "plans.yaml").read_text())
    assert len(fleet_topologies({"tenants": TENANTS, "catalog": "alt.yaml"}, tmp_path, "t")) == 3
    assert len(load_catalog(tmp_path / "alt.yaml")) == 3
