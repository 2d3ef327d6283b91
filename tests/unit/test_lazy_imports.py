"""What start-up costs: the CLI and the dynamic-provider module import nothing heavy until a command or an
operation needs it (measured in ``benchmarks/cli_startup.py``; pinned here by module names)."""

from __future__ import annotations

import json
import subprocess
import sys

from typer.testing import CliRunner

HEAVY = ("pulumi", "sqlalchemy", "alembic", "agent_acl", "psycopg", "paybill_infra.controlplane")


def imported_after(statement: str) -> list[str]:
    """The :data:`HEAVY` packages a fresh interpreter has loaded after running ``statement``."""
    probe = (
        f"{statement}\nimport json, sys\n"
        f"print(json.dumps([h for h in {HEAVY!r} if any(m == h or m.startswith(h + '.') for m in sys.modules)]))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return list(json.loads(done.stdout.strip().splitlines()[-1]))


def test_importing_the_cli_imports_nothing_heavy() -> None:
    assert imported_after("import paybill_infra.cli") == []


def test_the_help_of_the_root_lists_the_lazy_groups_without_loading_them() -> None:
    assert (
        imported_after(
            "from typer.testing import CliRunner\nfrom paybill_infra.cli import app\n"
            "assert 'tenants' in CliRunner().invoke(app, ['--help']).output"
        )
        == []
    )


def test_a_lazy_group_loads_when_its_command_runs() -> None:
    from paybill_infra.cli import app

    tenants = CliRunner().invoke(app, ["tenants", "--help"])
    assert tenants.exit_code == 0, tenants.output
    assert "onboard" in tenants.output
    assert "--install-completion" not in tenants.output
    acl = CliRunner().invoke(app, ["acl", "--help"])
    assert acl.exit_code == 0, acl.output
    assert "Agent ACL" in acl.output


def test_the_provider_module_imports_no_database_or_schema_library() -> None:
    loaded = imported_after("import paybill_infra.local.provider")
    assert "sqlalchemy" not in loaded
    assert "agent_acl" not in loaded
    assert "psycopg" not in loaded
    assert "paybill_infra.controlplane" not in loaded
