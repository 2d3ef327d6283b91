"""The ``acl`` typer sub-app: matrix, sql, check, and its exit codes."""

from __future__ import annotations

from pathlib import Path

import yaml
from typer.testing import CliRunner

from agent_acl.cli import app
from tests.agent_acl.conftest import GOLDEN, POLICY_FILE, policy_document

runner = CliRunner()


def test_matrix() -> None:
    result = runner.invoke(app, ["matrix", str(POLICY_FILE)])
    assert result.exit_code == 0, result.output
    assert result.output == (GOLDEN / "matrix.txt").read_text()
    one = runner.invoke(app, ["matrix", str(POLICY_FILE), "--agent", "support_bot"])
    assert one.exit_code == 0 and "agent collector" not in one.output and "agent support_bot" in one.output
    assert runner.invoke(app, ["matrix", str(POLICY_FILE), "--agent", "ghost"]).exit_code == 2


def test_sql_matches_golden(tmp_path: Path) -> None:
    for model in ("silo", "bridge", "pooled"):
        result = runner.invoke(app, ["sql", str(POLICY_FILE), "--isolation", model, "-t", "acme", "-t", "globex"])
        assert result.exit_code == 0, result.output
        assert result.output == (GOLDEN / f"{model}.sql").read_text()
    out = tmp_path / "down.sql"
    result = runner.invoke(
        app, ["sql", str(POLICY_FILE), "-i", "pooled", "-t", "acme", "-t", "globex", "--down", "-o", str(out)]
    )
    assert result.exit_code == 0
    assert out.read_text() == (GOLDEN / "pooled.down.sql").read_text()
    assert runner.invoke(app, ["sql", str(POLICY_FILE), "-i", "mesh"]).exit_code == 2
    assert runner.invoke(app, ["sql", str(POLICY_FILE), "-i", "silo", "-t", "Bad'Tenant"]).exit_code == 2


def test_check_ok() -> None:
    result = runner.invoke(app, ["check", str(POLICY_FILE)])
    assert result.exit_code == 0, result.output
    assert "all tenant-closed" in result.output


def test_invalid_policy_exits_2_and_names_the_path(tmp_path: Path) -> None:
    doc = policy_document()
    doc["workflows"][0]["steps"][0]["table"] = "ghosts"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(doc))
    result = runner.invoke(app, ["check", str(bad)])
    assert result.exit_code == 2
    assert "workflows[0].steps[0].table" in result.output
    assert str(bad) in result.output
