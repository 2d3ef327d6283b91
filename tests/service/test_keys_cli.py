"""``paybill service create-key|list-keys|revoke-key`` against the live service's database, and clear
errors (no traceback) when the settings are missing or wrong."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.service.conftest import Service

pytestmark = [pytest.mark.engine, pytest.mark.postgres]


def paybill(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "paybill"), "service", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def test_key_commands_create_list_and_revoke(service: Service) -> None:
    created = paybill(service.env, "create-key", "--subject", "cli-ops", "--role", "platform_admin")
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    with service.client(key) as http:
        assert http.get("/tenants").status_code == 200
    key_id = key.split("_")[1]
    listed = json.loads(paybill(service.env, "list-keys", "--json").stdout)
    mine = next(k for k in listed if k["id"] == key_id)
    assert (mine["subject"], mine["role"], mine["revoked_at"]) == ("cli-ops", "platform_admin", None)
    assert key.split("_")[2] not in json.dumps(listed)

    assert paybill(service.env, "revoke-key", key_id).returncode == 0
    with service.client(key) as http:
        assert http.get("/tenants").status_code == 401
    unknown = paybill(service.env, "revoke-key", "nosuchkey", "--json")
    assert unknown.returncode == 2 and json.loads(unknown.stdout)["error"]["field"] == "key_id"
    tenantless = paybill(service.env, "create-key", "--subject", "x", "--role", "tenant_admin")
    assert tenantless.returncode == 2 and "--tenant" in tenantless.stderr


@pytest.mark.parametrize(
    ("url", "expected"),
    [(None, "PAYBILL_SERVICE_DATABASE_URL: Field required"), ("mysql://x", "expected a postgresql:// URL")],
)
def test_missing_or_bad_settings_are_one_clear_line(url: str | None, expected: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYBILL_SERVICE_")}
    if url is not None:
        env["PAYBILL_SERVICE_DATABASE_URL"] = url
    for command in (["create-key", "--subject", "ops", "--role", "platform_admin"], ["list-keys"]):
        run = paybill(env, *command)
        assert run.returncode == 2 and expected in run.stderr and "Traceback" not in run.stderr, run.stderr
    module = subprocess.run(
        [sys.executable, "-m", "paybill_infra.service", "api"], env=env, capture_output=True, text=True, check=False
    )
    assert module.returncode == 2 and expected in module.stderr and "Traceback" not in module.stderr
