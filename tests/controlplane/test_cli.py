"""``paybill tenants`` / ``paybill fleet status`` in a subprocess: exit codes and ``--json``."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.controlplane.conftest import CATALOG, Env, paybill

pytestmark = [pytest.mark.engine, pytest.mark.postgres]


def test_cli_lifecycle_and_exit_codes(env: Env) -> None:
    bad = paybill(env, "tenants", "onboard", "Bad_Slug", "--plan", "starter")
    assert bad.returncode == 2
    assert "slug: String should match pattern '^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$'" in bad.stderr, bad.stderr
    assert paybill(env, "tenants", "onboard", "hooli", "--plan", "nope").returncode == 2
    done = paybill(env, "tenants", "onboard", "hooli", "--plan", "starter", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "succeeded"
    assert paybill(env, "tenants", "resume", "hooli").returncode == 7
    shown = json.loads(paybill(env, "tenants", "show", "hooli", "--json").stdout)
    assert shown["tenant"]["state"] == "active" and shown["operations"][0]["kind"] == "onboard"
    status = json.loads(paybill(env, "fleet", "status", "--json").stdout)
    assert status["tenants"] == {"active": 1}
    assert [(p["stack"], p["members"], p["shards"]) for p in status["pools"]] == [("pool-starter-001", 1, [])]
    listed = paybill(env, "fleet", "status").stdout
    assert "shards" in listed and "pool-starter-001" in listed, listed
    assert paybill(env, "fleet", "drift", "--control-plane").returncode == 0
    preview = json.loads(
        paybill(env, "tenants", "change-plan", "hooli", "--plan", "growth", "--preview", "--json").stdout
    )
    assert preview["migration"] is True and preview["monthly_price_delta"] == "270.00"
    assert paybill(env, "tenants", "offboard", "hooli", "--retention", "none").returncode == 2  # no TTY, no --yes
    assert paybill(env, "tenants", "offboard", "hooli", "--retention", "none", "--yes").returncode == 0
    assert json.loads(paybill(env, "tenants", "list", "--json").stdout)[0]["state"] == "offboarded"


def test_change_plan_preview_names_the_changed_properties(env: Env) -> None:
    """An in-place plan change (bridge to a bigger bridge plan) updates the login role's connection limit:
    the preview names the resource and the property path, in text and in ``--json``."""
    bigger = {**CATALOG["plans"][2], "name": "growth-plus", "tier": 25, "billing_id": "price_growth_plus"}
    bigger["limits"] = {**bigger["limits"], "database_size": "large"}
    (env.root / "plans.yaml").write_text(yaml.safe_dump({"plans": [*CATALOG["plans"], bigger]}))
    assert paybill(env, "tenants", "onboard", "umbrella", "--plan", "growth").returncode == 0
    args = ("tenants", "change-plan", "umbrella", "--plan", "growth-plus", "--preview")
    document = json.loads(paybill(env, *args, "--json").stdout)
    assert document["migration"] is False
    [stack] = document["stacks"]
    changed = {(r["op"], r["name"]): r["properties"] for r in stack["resources"]}
    assert changed == {("update", "umbrella-role"): ["connection_limit"]}, stack
    text = paybill(env, *args)
    assert text.returncode == 0, text.stderr
    line = "update  pulumi-python:dynamic/postgres:LoginRole umbrella-role: connection_limit"
    assert line in text.stdout, text.stdout
