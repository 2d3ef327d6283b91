"""The service's tables are migrated by Alembic: ``migrate`` upgrades a database whose tables predate
migrations (made by ``create_all``, with rows in them) without losing a row, and running it again is a
no-op. The API process checks the version without alembic, against a constant kept equal to the head."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from paybill_infra.service import migrations
from paybill_infra.service.migrate import migrate
from paybill_infra.service.schema import HEAD, VERSION_TABLE, ready
from tests.service.conftest import Service

pytestmark = [pytest.mark.postgres]


def test_head_constant_is_the_newest_revision() -> None:
    assert ScriptDirectory(str(migrations.SCRIPT_LOCATION)).get_current_head() == HEAD


def test_migrate_upgrades_an_older_schema_with_data_in_it(service_factory: Callable[[str], Service]) -> None:
    svc = service_factory("migrations")  # migrated to the head by the fixture; take it back to before 0002
    engine = create_engine(svc.settings.sqlalchemy_url())
    try:
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE svc_events, svc_operations, svc_webhook_events, svc_api_keys"))
            conn.execute(text(f"DROP TABLE {VERSION_TABLE}"))
            migrations.upgrade(conn, "0001")
            conn.execute(text(f"DROP TABLE {VERSION_TABLE}"))  # as create_all left it: no version at all
            conn.execute(
                text(
                    "INSERT INTO svc_operations (id, kind, tenant, actor, status, phase, request,"
                    " control_plane_operation, attempts, summary, created_at, updated_at) VALUES"
                    " ('00000000-0000-4000-8000-000000000001', 'onboard', 'old', 'platform_admin:root',"
                    " 'succeeded', 'done', '{}', 'cp-1', 1, '{\"stack\": \"pool-1\"}', now(), now())"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO svc_events (operation_id, payload) VALUES"
                    " ('00000000-0000-4000-8000-000000000001', '{\"phase\": \"finished\"}')"
                )
            )
            assert not ready(conn)

        migrate(svc.settings)
        migrate(svc.settings)  # idempotent

        with engine.connect() as conn:
            assert ready(conn)
            assert conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar() == HEAD
            columns = {c["name"] for c in inspect(conn).get_columns("svc_operations")}
            assert "control_plane_operation" not in columns
        operation = svc.store.get("00000000-0000-4000-8000-000000000001")
        assert operation is not None and operation.tenant == "old" and operation.summary == {"stack": "pool-1"}
        assert [e.get("phase") for e in svc.query("SELECT payload FROM svc_events")[0]] == ["finished"]
    finally:
        engine.dispose()
