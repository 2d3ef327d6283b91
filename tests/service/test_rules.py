"""One rule table: every lifecycle rule refuses a request the same way through the Python API, the CLI and
HTTP (the same typed error; over HTTP, the problem document that error maps to).

Tenants are written straight into the registry in the state each rule needs: a refusal happens before
anything is recorded or any engine runs, so no worker is started, and each case also checks that nothing
was journaled or queued.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from paybill_infra.controlplane import ControlPlane, TenantState
from paybill_infra.controlplane.registry import SubscriptionRow, TenantRow
from paybill_infra.errors import PaybillError
from paybill_infra.schema.enums import Cloud, Isolation, SubscriptionStatus
from paybill_infra.service.problems import from_error
from tests.service.conftest import Service

pytestmark = [pytest.mark.postgres]

S, B = TenantState, SubscriptionStatus
PAYBILL = str(Path(sys.executable).parent / "paybill")
SEEDED: dict[str, tuple[str, Isolation, TenantState, SubscriptionStatus, int]] = {
    "r-active": ("starter", Isolation.POOLED, S.ACTIVE, B.ACTIVE, 0),
    "r-suspended": ("starter", Isolation.POOLED, S.SUSPENDED, B.ACTIVE, 0),
    "r-canceled": ("starter", Isolation.POOLED, S.SUSPENDED, B.CANCELED, 0),
    "r-pastdue": ("starter", Isolation.POOLED, S.ACTIVE, B.PAST_DUE, 0),
    "r-busy": ("team", Isolation.POOLED, S.ACTIVE, B.ACTIVE, 12),
    "r-migrating": ("starter", Isolation.POOLED, S.MIGRATING, B.ACTIVE, 0),
    "r-elsewhere": ("starter", Isolation.POOLED, S.ACTIVE, B.ACTIVE, 0),
}
REGIONS = {"r-elsewhere": "local-b"}
"""Seeded tenants not in the local target's default region (``local``)."""


@dataclass(frozen=True)
class Case:
    """A request refused by one rule: how each entry point makes it, and the error all three must give."""

    rule: str
    python: Callable[[ControlPlane], object]
    cli: tuple[str, ...]
    http: tuple[str, str, dict[str, Any] | None]
    error: str


CASES = (
    Case(
        "suspend needs an active tenant",
        lambda p: p.suspend("r-suspended"),
        ("suspend", "r-suspended"),
        ("POST", "/tenants/r-suspended/suspend", None),
        "IllegalTransitionError",
    ),
    Case(
        "resume needs a suspended tenant",
        lambda p: p.resume("r-active"),
        ("resume", "r-active"),
        ("POST", "/tenants/r-active/resume", None),
        "IllegalTransitionError",
    ),
    Case(
        "resume needs an entitled subscription",
        lambda p: p.resume("r-canceled"),
        ("resume", "r-canceled"),
        ("POST", "/tenants/r-canceled/resume", None),
        "BillingGateError",
    ),
    Case(
        "a plan change needs an active tenant",
        lambda p: p.change_plan("r-suspended", "team"),
        ("change-plan", "r-suspended", "--plan", "team"),
        ("PATCH", "/tenants/r-suspended/plan", {"plan": "team"}),
        "IllegalTransitionError",
    ),
    Case(
        "a plan change needs another plan",
        lambda p: p.change_plan("r-active", "starter"),
        ("change-plan", "r-active", "--plan", "starter"),
        ("PATCH", "/tenants/r-active/plan", {"plan": "starter"}),
        "InvalidInputError",
    ),
    Case(
        "an upgrade needs an entitled subscription",
        lambda p: p.change_plan("r-pastdue", "team"),
        ("change-plan", "r-pastdue", "--plan", "team"),
        ("PATCH", "/tenants/r-pastdue/plan", {"plan": "team"}),
        "BillingGateError",
    ),
    Case(
        "a downgrade must fit the usage",
        lambda p: p.change_plan("r-busy", "starter"),
        ("change-plan", "r-busy", "--plan", "starter"),
        ("PATCH", "/tenants/r-busy/plan", {"plan": "starter"}),
        "PlanLimitError",
    ),
    Case(
        "a move needs an active tenant",
        lambda p: p.move("r-suspended", cloud="local", region="local"),
        ("move", "r-suspended", "--cloud", "local", "--region", "local"),
        ("POST", "/tenants/r-suspended/move", {"cloud": "local", "region": "local"}),
        "IllegalTransitionError",
    ),
    Case(
        "a move needs another place",
        lambda p: p.move("r-active", cloud="local", region="local"),
        ("move", "r-active", "--cloud", "local", "--region", "local"),
        ("POST", "/tenants/r-active/move", {"cloud": "local", "region": "local"}),
        "InvalidInputError",
    ),
    Case(
        "a move without a region goes to the target's default region (here, where the tenant is)",
        lambda p: p.move("r-active", cloud="local"),
        ("move", "r-active", "--cloud", "local"),
        ("POST", "/tenants/r-active/move", {"cloud": "local"}),
        "InvalidInputError",
    ),
    Case(
        "offboarding waits for a running migration",
        lambda p: p.offboard("r-migrating"),
        ("offboard", "r-migrating", "--yes"),
        ("DELETE", "/tenants/r-migrating", None),
        "IllegalTransitionError",
    ),
    Case(
        "onboarding needs an entitled subscription",
        lambda p: p.onboard({"slug": "r-new", "display_name": "New", "plan": "starter", "subscription": "canceled"}),
        ("onboard", "r-new", "--plan", "starter", "--name", "New", "--subscription", "canceled"),
        ("POST", "/tenants", {"slug": "r-new", "display_name": "New", "plan": "starter", "subscription": "canceled"}),
        "BillingGateError",
    ),
    Case(
        "a placed tenant is not onboarded again on another plan",
        lambda p: p.onboard({"slug": "r-active", "display_name": "r-active", "plan": "team"}),
        ("onboard", "r-active", "--plan", "team"),
        ("POST", "/tenants", {"slug": "r-active", "display_name": "r-active", "plan": "team"}),
        "TenantExistsError",
    ),
)


@pytest.fixture(scope="module")
def ruled(service_factory: Callable[[str], Service], engine_available: None) -> Iterator[tuple[Service, ControlPlane]]:
    """An API without workers over a registry seeded with one tenant per state the rules need; the CLI
    reads the same registry through ``paybill.yaml``."""
    svc = service_factory("rules")
    (svc.root / "paybill.yaml").write_text(yaml.safe_dump({"control_plane": {"database_url": svc.database_url}}))
    plane = ControlPlane(svc.settings.control_plane(), recover=False)
    now = datetime.now(UTC)
    with plane.registry.transaction() as session:
        for slug, (plan, isolation, state, status, seats) in SEEDED.items():
            session.add(
                TenantRow(
                    slug=slug,
                    display_name=slug,
                    plan=plan,
                    isolation=isolation,
                    cloud=Cloud.LOCAL,
                    region=REGIONS.get(slug, "local"),
                    state=state,
                    suspended=state is S.SUSPENDED,
                    seats_used=seats,
                    storage_gb_used=0,
                    generation=0,
                )
            )
            session.add(SubscriptionRow(tenant=slug, plan=plan, status=status, past_due_since=now))
    svc.start_api()
    try:
        yield svc, plane
    finally:
        plane.close()


@pytest.mark.parametrize("case", CASES, ids=[c.rule for c in CASES])
def test_each_rule_refuses_alike_through_python_cli_and_http(ruled: tuple[Service, ControlPlane], case: Case) -> None:
    svc, plane = ruled
    journal_before = [o.id for o in plane.operations()]

    with pytest.raises(PaybillError) as raised:
        case.python(plane)
    assert type(raised.value).__name__ == case.error, raised.value

    cli = subprocess.run(
        [PAYBILL, "tenants", *case.cli, "--root", str(svc.root), "--json"],
        capture_output=True,
        text=True,
        env=svc.env,
        timeout=120,
        check=False,
    )
    assert cli.returncode != 0, cli.stdout
    assert json.loads(cli.stdout)["error"]["code"] == case.error, cli.stdout + cli.stderr

    method, path, body = case.http
    with svc.platform() as http:
        answer = http.request(method, path, json=body)
    expected = from_error(raised.value)
    assert answer.status_code == expected.status_code, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in answer.json()["errors"]] == [
        e["field"] for e in json.loads(bytes(expected.body))["errors"]
    ], answer.text

    assert [o.id for o in plane.operations()] == journal_before
    assert svc.query("SELECT count(*) FROM operations WHERE status = 'queued'") == [(0,)]


def test_a_request_the_rules_allow_is_queued(ruled: tuple[Service, ControlPlane]) -> None:
    """The control: the same API queues what no rule refuses (here, with no worker, it stays queued)."""
    svc, _ = ruled
    with svc.platform() as http:
        answer = http.post("/tenants/r-active/suspend")
    assert answer.status_code == 202, answer.text
    assert answer.json()["status"] == "queued"
    svc.query("DELETE FROM operations WHERE status = 'queued'")


def test_a_move_without_a_region_goes_where_the_control_plane_would_send_it(
    ruled: tuple[Service, ControlPlane],
) -> None:
    """One rule for the destination of a move that names no region: the target's default region, over HTTP
    as in the control plane (not the tenant's current region, which would refuse this move as a no-op)."""
    svc, plane = ruled
    with svc.platform() as http:
        answer = http.post("/tenants/r-elsewhere/move", json={"cloud": "local"})
    assert answer.status_code == 202, answer.text
    queued = svc.query("SELECT request FROM operations WHERE id = %s", answer.json()["id"])
    assert queued == [({"cloud": "local", "region": plane.runtime.target(Cloud.LOCAL).default_region},)]
    svc.query("DELETE FROM operations WHERE status = 'queued'")
