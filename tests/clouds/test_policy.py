"""The policy pack's rules: every component's registrations pass them, and deliberately broken resources fail.

The rules are pure functions (``policy/rules.py``); the pack (``policy/__main__.py``) only wires them into
``pulumi-policy``. ``test_policy_engine`` runs the pack with the real engine.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from scenarios import Run, scenario

from paybill_infra.schema import Cloud, Isolation

POLICY_DIR = Path(__file__).resolve().parents[2] / "policy"


def _load_rules() -> ModuleType:
    spec = importlib.util.spec_from_file_location("paybill_policy_rules", POLICY_DIR / "rules.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


rules = _load_rules()


def violations(run: Run) -> list[tuple[str, str, str]]:
    found = []
    for resource in (r for r in run.resources if r.custom):
        for check in (rules.tag_violations, rules.encryption_violations, rules.public_database_violations):
            found += [(resource.type, resource.name, problem) for problem in check(resource.type, resource.inputs)]
    return found


def test_every_component_passes_the_resource_policies(combo: tuple[Cloud, Isolation, Run]) -> None:
    assert violations(combo[2]) == []


def test_silo_policy_holds_for_every_silo_and_catches_a_pool_reference() -> None:
    for cloud in Cloud:
        if cloud is Cloud.LOCAL:
            continue
        run = scenario(cloud, Isolation.SILO)
        by_urn = {r.urn: r for r in run.resources}
        for resource in run.resources:
            if rules.is_silo(resource.type, resource.inputs, resource.parent_types):
                for urn in resource.dependencies:
                    other = by_urn[urn]
                    assert not rules.is_pool(other.type, other.inputs, other.parent_types), (resource.name, urn)
    assert rules.is_pool("aws:ec2/vpc:Vpc", {"tags": {"paybill:tenant": "shared"}}, ())
    assert rules.is_silo("aws:rds/instance:Instance", {}, ("paybill:aws:SiloTenant",))


def test_broken_resources_fail() -> None:
    public = {"publiclyAccessible": True, "storageEncrypted": False, "tags": {"paybill:tenant": "acme"}}
    assert rules.public_database_violations("aws:rds/instance:Instance", public) == ["publiclyAccessible must be false"]
    assert "storageEncrypted must be true" in rules.encryption_violations("aws:rds/instance:Instance", public)
    assert rules.tag_violations("aws:rds/instance:Instance", public) == [
        "missing tags: paybill:plan, paybill:isolation, managed-by"
    ]
    open_sql = {"settings": {"ipConfiguration": {"ipv4Enabled": True}}}
    assert rules.public_database_violations("gcp:sql/databaseInstance:DatabaseInstance", open_sql)
    assert rules.encryption_violations("gcp:sql/databaseInstance:DatabaseInstance", open_sql)
    assert rules.public_database_violations("azure-native:dbforpostgresql:Server", {"network": {}})
    assert rules.encryption_violations("oci:Psql/dbSystem:DbSystem", {"storageDetails": {}})
    assert rules.public_database_violations("ibm:index/database:Database", {"serviceEndpoints": "public"})
    assert rules.tag_violations("ibm:index/isVpc:IsVpc", {"tags": ["paybill-tenant:acme"]})
    assert rules.tag_violations("pulumi-python:dynamic:Resource", {"tags": {}})
    assert rules.tag_violations("pulumi-python:dynamic:Resource", {"role": "x"}) == []
