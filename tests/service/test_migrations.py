"""The service's tables are migrated by Alembic: ``migrate`` upgrades a database whose tables predate
migrations (made by ``create_all``, with rows in them) without losing a row, and running it again is a
no-op. The API process checks the version without alembic, against a constant kept equal to the head."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from paybill_infra.controlplane import OperationKind, OperationStatus
from paybill_infra.service import migrations
from paybill_infra.service.migrate import migrate
from paybill_infra.service.schema import HEAD, VERSION_TABLE, ready
from tests.service.conftest import Service

pytestmark = [pytest.mark.postgres]


def test_head_constant_is_the_newest_revision() -> None:
    assert ScriptDirectory(str(migrations.SCRIPT_LOCATION)).get_current_head() == HEAD


OLD = "00000000-0000-4000-8000-000000000001"  # finished before the control plane journaled service operations
QUEUED = "00000000-0000-4000-8000-000000000002"  # accepted, not run yet (with an idempotency key)
TWIN = "00000000-0000-4000-8000-000000000003"  # run by a worker: the control plane's journal has it too


SVC_ROW = text(
    "INSERT INTO svc_operations (id, kind, tenant, actor, status, phase, request, idempotency_key, job_id, worker,"
    " attempts, summary, created_at, updated_at) VALUES (:id, 'onboard', :tenant, 'platform_admin:root', :status,"
    " :status, '{}', :key, 7, 'w1@h:1', 1, CAST(:summary AS json), now(), now())"
)


def test_migrate_upgrades_an_older_schema_with_data_in_it(service_factory: Callable[[str], Service]) -> None:
    """Tables as ``create_all`` made them (revision 0001, no version), with rows: ``migrate`` adopts them and
    moves ``svc_operations`` into the one journal (a row the journal has by id keeps the journal's record and
    gains the service's columns), then drops it; running it again changes nothing."""
    svc = service_factory("migrations")  # migrated to the head by the fixture; take it back to before 0002
    engine = create_engine(svc.settings.sqlalchemy_url())
    try:
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE svc_events, svc_webhook_events, svc_api_keys"))
            conn.execute(text(f"DROP TABLE {VERSION_TABLE}"))
            migrations.upgrade(conn, "0001")
            conn.execute(text(f"DROP TABLE {VERSION_TABLE}"))  # as create_all left it: no version at all
            conn.execute(
                text(
                    "INSERT INTO operations (id, kind, tenant, actor, status, phase, request_hash, request, attempts,"
                    " owner, heartbeat_at, created_at, updated_at, started_at, finished_at, summary) VALUES"
                    " (:id, 'onboard', 'twin', 'platform_admin:root', 'succeeded', 'done', 'h', '{}', 1, 'h:1:t',"
                    " now(), now(), now(), now(), now(), CAST(:summary AS json))"
                ),
                {"id": TWIN, "summary": '{"stack": "pool-2", "outputs": 1}'},
            )
            for operation_id, tenant, status, key, summary in (
                (OLD, "old", "succeeded", None, '{"stack": "pool-1"}'),
                (QUEUED, "new", "queued", "key-12345678", "{}"),
                (TWIN, "twin", "succeeded", "key-twin-0001", "{}"),
            ):
                conn.execute(
                    SVC_ROW, {"id": operation_id, "tenant": tenant, "status": status, "key": key, "summary": summary}
                )
            conn.execute(
                text("INSERT INTO svc_events (operation_id, payload) VALUES (:id, CAST(:payload AS json))"),
                {"id": OLD, "payload": '{"phase": "finished"}'},
            )
            assert not ready(conn)

        migrate(svc.settings)
        with engine.connect() as conn:
            journal = conn.execute(text("SELECT * FROM operations ORDER BY id")).all()
        migrate(svc.settings)  # idempotent

        with engine.connect() as conn:
            assert ready(conn)
            assert conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar() == HEAD
            assert not inspect(conn).has_table("svc_operations")
            assert conn.execute(text("SELECT * FROM operations ORDER BY id")).all() == journal
            referred = {fk["referred_table"] for fk in inspect(conn).get_foreign_keys("svc_events")}
            assert referred == {"operations"}
        old, queued, twin = (svc.store.get(i) for i in (OLD, QUEUED, TWIN))
        assert old is not None and old.tenant == "old" and old.status is OperationStatus.SUCCEEDED
        assert old.summary == {"stack": "pool-1"} and old.worker == "w1@h:1"
        assert twin is not None and twin.summary == {"stack": "pool-2"} and twin.worker == "w1@h:1"
        assert queued is not None and queued.status is OperationStatus.QUEUED
        assert [o.id for o in svc.store.orphans(timedelta(0))] == []  # it has its job (7)
        again, created = svc.store.create(OperationKind.ONBOARD, "new", "platform_admin:root", {}, "key-12345678")
        assert not created and again.id == QUEUED and again.deduplicated
        assert [e.get("phase") for e in svc.query("SELECT payload FROM svc_events")[0]] == ["finished"]
    finally:
        engine.dispose()
