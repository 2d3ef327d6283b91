"""Registry reads: a constant number of SQL statements whatever the fleet's size, keyset pages, filters and
the typed error of a bad query. The registry is seeded directly (no engine run is needed to read it)."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import event
from typer.testing import CliRunner

from paybill_infra.cli import app
from paybill_infra.cli_output import emit
from paybill_infra.controlplane import ControlPlane, ControlPlaneSettings, TenantState
from paybill_infra.controlplane import registry as registry_module
from paybill_infra.controlplane.reader import RegistryReader
from paybill_infra.controlplane.registry import PoolRow, SubscriptionRow, TenantRow
from paybill_infra.errors import InvalidInputError
from paybill_infra.schema.enums import Cloud, Isolation, SubscriptionStatus
from paybill_infra.topology.naming import pool_database, pool_owner, tenant_role

from .conftest import CATALOG


@pytest.fixture(scope="module")
def plane(engine_available: None) -> Iterator[ControlPlane]:
    root = Path(tempfile.mkdtemp(prefix="paybill-reads-"))
    (root / "plans.yaml").write_text(yaml.safe_dump(CATALOG))
    with ControlPlane(ControlPlaneSettings(root=root)) as control_plane:
        yield control_plane
    shutil.rmtree(root, ignore_errors=True)


def seed(plane: ControlPlane, first: int, count: int) -> None:
    """``count`` active tenants from number ``first``: every third pooled (in one pool), the rest bridge;
    every fourth on AWS; all with a subscription."""
    with plane.registry.transaction() as session:
        pool = session.query(PoolRow).filter_by(stack="pool-starter-001").one_or_none()
        if pool is None:
            pool = PoolRow(
                plan="starter",
                ordinal=1,
                stack="pool-starter-001",
                database=pool_database("starter", 1),
                owner=pool_owner("starter", 1),
                capacity=4,
            )
            session.add(pool)
            session.flush()
        for n in range(first, first + count):
            slug = f"t{n:05d}"
            pooled = n % 3 == 0
            session.add(
                TenantRow(
                    slug=slug,
                    display_name=slug,
                    plan="starter" if pooled else "growth",
                    isolation=Isolation.POOLED if pooled else Isolation.BRIDGE,
                    cloud=Cloud.AWS if n % 4 == 0 else Cloud.LOCAL,
                    state=TenantState.ACTIVE,
                    stack=pool.stack if pooled else f"tenant-{slug}",
                    pool_id=pool.id if pooled else None,
                    role=tenant_role(slug, 0),
                )
            )
            session.add(
                SubscriptionRow(tenant=slug, plan="starter" if pooled else "growth", status=SubscriptionStatus.ACTIVE)
            )


@contextmanager
def statements(plane: ControlPlane) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(plane.registry.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(plane.registry.engine, "before_cursor_execute", count)


def test_list_and_show_run_the_same_statements_at_any_fleet_size(plane: ControlPlane) -> None:
    seed(plane, 0, 3)
    with statements(plane) as small:
        assert len(plane.tenants()) == 3
    with statements(plane) as one:
        plane.show("t00000")
    seed(plane, 3, 297)
    with statements(plane) as large:
        views = plane.tenants()
    with statements(plane) as again:
        shown = plane.show("t00003")
    assert len(views) == 300
    assert all(v.subscription is not None for v in views)
    assert {v.pool for v in views if v.isolation is Isolation.POOLED} == {"pool-starter-001"}
    assert shown.pool == "pool-starter-001"
    assert len(large) == len(small) and len(again) == len(one)
    selects = [s for s in large if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 1, selects


def test_pages_walk_the_fleet_once_in_slug_order(plane: ControlPlane) -> None:
    everyone = [v.slug for v in plane.tenants()]
    walked: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        with statements(plane) as issued:
            page = plane.tenant_page(limit=70, cursor=cursor)
        assert len([s for s in issued if s.lstrip().upper().startswith("SELECT")]) == 1
        walked += [v.slug for v in page.tenants]
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            break
    assert walked == everyone
    assert pages == -(-len(everyone) // 70)


def test_filters_combine(plane: ControlPlane) -> None:
    aws_pooled = plane.tenants(plan="starter", cloud="aws")
    assert aws_pooled
    assert all(v.plan == "starter" and v.cloud is Cloud.AWS for v in aws_pooled)
    assert len(aws_pooled) == len([n for n in range(300) if n % 3 == 0 and n % 4 == 0])
    assert plane.tenants(TenantState.SUSPENDED) == []


def test_a_bad_query_names_its_field(plane: ControlPlane) -> None:
    with pytest.raises(InvalidInputError) as bad:
        plane.tenant_page(limit=0)
    assert "limit" in str(bad.value)
    with pytest.raises(InvalidInputError) as bad_cloud:
        plane.tenant_page(cloud="mars")
    assert "cloud" in str(bad_cloud.value)


def test_the_cli_pages_with_a_cursor(plane: ControlPlane) -> None:
    root = str(plane.settings.root)
    first = CliRunner().invoke(app, ["tenants", "list", "--root", root, "--limit", "2", "--plan", "starter", "--json"])
    assert first.exit_code == 0, first.output
    page = json.loads(first.stdout)
    assert [t["slug"] for t in page["tenants"]] == ["t00000", "t00003"]
    assert page["next_cursor"] == "t00003"
    rest = CliRunner().invoke(
        app, ["tenants", "list", "--root", root, "--plan", "starter", "--cursor", page["next_cursor"], "--json"]
    )
    assert rest.exit_code == 0, rest.output
    assert json.loads(rest.stdout)["tenants"][0]["slug"] == "t00006"


def test_the_json_listing_is_the_model_listing_byte_for_byte(
    plane: ControlPlane, capsys: pytest.CaptureFixture[str]
) -> None:
    """``tenants list --json`` serializes rows without building views (:func:`tenant_document`); its text
    must stay what :func:`emit` makes of the views: the same keys, order, escapes and datetimes. Seeded
    after the other tests' tenants (``zz-`` sorts last) so their counts hold."""
    now = datetime.now(UTC)
    with plane.registry.transaction() as session:
        pool = session.query(PoolRow).filter_by(stack="pool-starter-001").one()
        session.add_all(
            [
                TenantRow(
                    slug="zz-failed",
                    display_name="Zoë «株式会社» 😀",
                    plan="growth",
                    isolation=Isolation.BRIDGE,
                    state=TenantState.FAILED,
                    stack=None,
                    role=tenant_role("zz-failed", 0),
                ),
                TenantRow(
                    slug="zz-pooled",
                    display_name='"Acme" \\ Ltd / Ωmega',
                    plan="starter",
                    isolation=Isolation.POOLED,
                    cloud=Cloud.GCP,
                    region="europe-west1",
                    state=TenantState.SUSPENDED,
                    suspended=True,
                    stack=pool.stack,
                    pool_id=pool.id,
                    role=tenant_role("zz-pooled", 0),
                    seats_used=7,
                    storage_gb_used=3,
                ),
                TenantRow(
                    slug="zz-silo",
                    display_name="Silo",
                    plan="growth",
                    isolation=Isolation.SILO,
                    cloud=Cloud.AWS,
                    state=TenantState.ACTIVE,
                    stack="tenant-zz-silo",
                    role=tenant_role("zz-silo", 0),
                ),
                SubscriptionRow(
                    tenant="zz-pooled",
                    plan="starter",
                    status=SubscriptionStatus.PAST_DUE,
                    period_end=now + timedelta(days=30),
                    past_due_since=now.replace(microsecond=0),
                ),
                SubscriptionRow(tenant="zz-silo", plan="growth", status=SubscriptionStatus.CANCELED, canceled_at=now),
            ]
        )
    root = str(plane.settings.root)
    for argv, expected in (
        (["--cursor", "zyx"], lambda: plane.tenant_page(cursor="zyx")),
        (["--cursor", "zyx", "--limit", "2"], lambda: plane.tenant_page(cursor="zyx", limit=2)),
        (["--state", "failed"], lambda: plane.tenants(TenantState.FAILED)),
    ):
        emit(expected())
        model_text = capsys.readouterr().out
        listed = CliRunner().invoke(app, ["tenants", "list", "--root", root, "--json", *argv])
        assert listed.exit_code == 0, listed.output
        assert listed.stdout == model_text
    listing = json.loads(listed.stdout)
    assert [t["slug"] for t in listing] == ["zz-failed"]
    assert listing[0]["display_name"] == "Zoë «株式会社» 😀"
    assert listing[0]["subscription"] is None and listing[0]["database"] is None and listing[0]["role"] is None
    assert "\\u682a" in listed.stdout and "\\ud83d\\ude00" in listed.stdout


def test_a_reader_does_not_queue_behind_a_writer(plane: ControlPlane, monkeypatch: pytest.MonkeyPatch) -> None:
    """On the SQLite registry a listing reads a snapshot while a writer holds its transaction open; it used to
    start with ``BEGIN IMMEDIATE`` and wait out the busy timeout (then fail with "database is locked")."""
    monkeypatch.setattr(registry_module, "SQLITE_BUSY_TIMEOUT_S", 0.2)  # an old-style reader fails at once
    seed(plane, 900, 2)
    with plane.registry.engine.connect() as writer:  # the registry's own engine: BEGIN IMMEDIATE
        writer.exec_driver_sql("UPDATE tenants SET display_name = 'being renamed' WHERE slug = 't00900'")
        with RegistryReader(plane.settings) as reader:
            names = {v.slug: v.display_name for v in reader.tenants()}
        writer.rollback()
    assert names["t00900"] != "being renamed" and "t00901" in names  # the committed snapshot, not the write
