"""The policy pack with the real engine: a preview of a small inline program on the local target (file backend,
no cloud) passes when compliant and fails on a deliberately broken resource."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pulumi import automation as auto

from paybill_infra.engine.settings import EngineSettings

ROOT = Path(__file__).resolve().parents[2]
GOOD_TAGS = {
    "paybill:tenant": "acme",
    "paybill:plan": "pro",
    "paybill:isolation": "silo",
    "managed-by": "paybill-infra",
}


def _preview(tmp_path: Path, program: Callable[[], None]) -> auto.PreviewResult:
    settings = EngineSettings.for_project(tmp_path)
    env = {**settings.env({**os.environ, "PULUMI_CONFIG_PASSPHRASE": "test"}), "PULUMI_CONFIG_PASSPHRASE": "test"}
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).parent), str(ROOT)])
    stack = auto.create_or_select_stack(
        "policy",
        project_name="paybill-policy-test",
        program=program,
        opts=auto.LocalWorkspaceOptions(
            work_dir=str(tmp_path),
            env_vars=env,
            pulumi_command=auto.PulumiCommand(root=str(settings.bin_dir().parent)),
        ),
    )
    return stack.preview(policy_packs=[str(ROOT / "policy")])


def _database(props: dict[str, Any]) -> Callable[[], None]:
    def program() -> None:
        from engine_fixtures import FakeDatabase

        FakeDatabase("db", props)

    return program


@pytest.mark.engine
def test_compliant_program_passes(tmp_path: Path) -> None:
    result = _preview(tmp_path, _database({"tags": GOOD_TAGS, "storageEncrypted": True, "publiclyAccessible": False}))
    assert result.change_summary.get("create", 0) >= 1


@pytest.mark.engine
def test_broken_resource_fails_the_pack(tmp_path: Path) -> None:
    broken = {"tags": {"paybill:tenant": "acme"}, "storageEncrypted": False, "publiclyAccessible": True}
    with pytest.raises(auto.CommandError) as err:
        _preview(tmp_path, _database(broken))
    message = str(err.value)
    for policy in ("tags-present", "encryption-on", "no-public-database"):
        assert policy in message
