"""The `paybill` command line without the engine: literal error text, JSON errors, confirmation, --version,
flags in --help, the sample catalog, folded tables."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from paybill_infra.catalog import SAMPLE_CATALOG, load_catalog
from paybill_infra.cli_output import table
from paybill_infra.schema.identifiers import SLUG_PATTERN

PATTERN = f"'{SLUG_PATTERN}'"  # plan names follow the slug rule: brackets, a star and parentheses
BAD_CATALOG = """plans:
  - name: Bad_Name
    tier: 10
    isolation: pooled
    limits: {seats: 5, storage_gb: 5}
    price: {amount: "29.00", currency: USD}
    billing_id: x
"""


def paybill(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "paybill"), *args],
        cwd=cwd,
        env={**os.environ, "COLUMNS": "40"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def test_error_text_keeps_brackets_and_stars_and_is_not_hard_wrapped(tmp_path: Path) -> None:
    (tmp_path / "plans.yaml").write_text(BAD_CATALOG)
    run = paybill("plans", "validate", cwd=tmp_path)
    assert run.returncode == 2
    assert f"  - name: String should match pattern {PATTERN}\n" in run.stderr, run.stderr
    assert run.stderr.startswith("error: invalid input in plans.yaml: plans[0] 'Bad_Name':\n")


def test_json_errors_are_documents_on_stdout(tmp_path: Path) -> None:
    (tmp_path / "plans.yaml").write_text(BAD_CATALOG)
    run = paybill("plans", "validate", "--json", cwd=tmp_path)
    assert run.returncode == 2 and run.stderr == ""
    error = json.loads(run.stdout)["error"]
    assert (error["code"], error["exit_code"], error["field"]) == ("CatalogError", 2, "name")
    assert error["source"] == "plans.yaml" and error["entry"] == "plans[0] 'Bad_Name'"
    assert PATTERN.strip("'") in error["problems"][0]["message"]


def test_plans_init_writes_the_shipped_sample_and_refuses_to_overwrite(tmp_path: Path) -> None:
    assert paybill("plans", "init", cwd=tmp_path).returncode == 0
    assert (tmp_path / "plans.yaml").read_text() == SAMPLE_CATALOG.read_text()
    valid = json.loads(paybill("plans", "validate", "--json", cwd=tmp_path).stdout)
    assert valid == {"catalog": "plans.yaml", "valid": True, "plans": ["starter", "growth", "enterprise"]}
    again = paybill("plans", "init", cwd=tmp_path)
    assert again.returncode == 2 and "--force" in again.stderr
    assert load_catalog(SAMPLE_CATALOG).names == ("starter", "growth", "enterprise")


def test_destructive_commands_are_refused_without_a_terminal_or_yes(tmp_path: Path) -> None:
    run = paybill("tenants", "offboard", "acme", "--json", "--root", str(tmp_path), cwd=tmp_path)
    assert run.returncode == 2
    assert json.loads(run.stdout)["error"]["field"] == "--yes"
    assert not (tmp_path / ".paybill").exists()  # refused before the control plane opened anything


def test_version_and_flags_in_help(tmp_path: Path) -> None:
    from importlib.metadata import version

    assert paybill("--version", cwd=tmp_path).stdout == f"paybill {version('paybill-infra')}\n"
    for command in (("fleet", "preview"), ("fleet", "destroy"), ("tenants", "offboard"), ("plans", "validate")):
        shown = paybill(*command, "--help", cwd=tmp_path).stdout
        assert "  --json " in shown and "<bool>" not in shown and "BOOLEAN" not in shown, shown


@pytest.mark.parametrize("width", [20, 40])
def test_table_cells_fold_instead_of_truncating(width: int) -> None:
    rows = table("stack", "members")
    rows.add_row("pool-enterprise-analytics-007", "3")
    console = Console(width=width, record=True)
    console.print(rows)
    text = console.export_text()
    assert "…" not in text
    first_column = "".join(line.split("│")[1].strip() for line in text.splitlines() if line.startswith("│"))
    assert first_column == "pool-enterprise-analytics-007", text
