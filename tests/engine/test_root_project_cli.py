"""The root project (Pulumi.yaml + stacks/) through the plain `pulumi` CLI and the Python language host,
exactly as `make demo` and a user's shell run it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from paybill_infra.engine.settings import DEV_PASSPHRASE
from tests.engine.conftest import Project

pytestmark = [pytest.mark.engine, pytest.mark.postgres]


def pulumi(project: Project, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["pulumi", *args, "--stack", project.stack_name, "--non-interactive"],
        cwd=project.root,
        env=project.settings.env(),
        capture_output=True,
        text=True,
        check=check,
        timeout=600,
    )


def test_pulumi_up_preview_destroy_on_the_root_project(make_project: Any) -> None:
    project: Project = make_project(
        [
            {"slug": "acme", "name": "Acme", "plan": "enterprise"},
            {"slug": "globex", "name": "Globex", "plan": "growth"},
            {"slug": "initech", "name": "Initech", "plan": "starter"},
        ]
    )
    subprocess.run(
        ["pulumi", "stack", "init", project.stack_name, "--non-interactive"],
        cwd=project.root,
        env=project.settings.env(),
        check=True,
        capture_output=True,
        text=True,
    )
    up = pulumi(project, "up", "--yes", "--skip-preview")
    assert "12 created" in up.stdout, up.stdout  # stack, platform + shared db, 3 x (tenant, role, data)
    assert project.settings.env()["PULUMI_CONFIG_PASSPHRASE"] == DEV_PASSPHRASE
    assert "public development passphrase" in up.stdout + up.stderr
    assert pulumi(project, "preview", "--expect-no-changes").returncode == 0
    out = pulumi(project, "stack", "output", "credentials").stdout
    assert "[secret]" in out
    assert project.query("SELECT datname FROM pg_database WHERE datname = 'd_acme'") == [("d_acme",)]

    broken = project.root / "stacks" / f"Pulumi.{project.stack_name}.yaml"
    good = broken.read_text()
    broken.write_text(good.replace("slug: initech", "slug: Initech;DROP"))
    failed = pulumi(project, "preview", check=False)
    said = failed.stdout + failed.stderr
    assert failed.returncode != 0 and "tenants[2]" in said
    assert f"stacks/Pulumi.{project.stack_name}.yaml" in said and "slug" in said
    assert "Traceback" not in said and 'File "' not in said, said
    broken.write_text(good)

    _drift_is_named_by_resource_and_property(project)
    _cli_refuses_unknown_stacks_and_unconfirmed_destroy(project)

    pulumi(project, "destroy", "--yes", "--skip-preview")
    assert project.query("SELECT count(*) FROM pg_roles WHERE rolname LIKE 't\\_%'") == [(0,)]


def paybill(project: Project, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "paybill"), *args, "--root", str(project.root)],
        env=project.settings.env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def _drift_is_named_by_resource_and_property(project: Project) -> None:
    """A BYPASSRLS granted by hand: `paybill fleet drift --json`, plain `pulumi preview --diff` and
    `paybill fleet preview --json` all name the resource and the property."""
    project.query("ALTER ROLE r_initech BYPASSRLS")
    drift = paybill(project, "fleet", "drift", "--stack", project.stack_name, "--json")
    assert drift.returncode == 6, drift.stdout + drift.stderr
    [drifted] = json.loads(drift.stdout)["resources"]
    assert (drifted["name"], drifted["op"]) == ("initech-role", "update")
    assert "bypassrls" in drifted["properties"] and drifted["urn"].endswith("::initech-role")

    diff = pulumi(project, "preview", "--diff").stdout
    assert any("bypassrls" in line and "true => false" in line for line in diff.splitlines()), diff

    preview = paybill(project, "fleet", "preview", "--stack", project.stack_name)
    assert preview.returncode == 0, preview.stderr
    assert "update initech-role (pulumi-python:dynamic/postgres:LoginRole): bypassrls, drift" in preview.stdout
    pulumi(project, "up", "--yes", "--skip-preview")
    assert project.query("SELECT rolbypassrls FROM pg_roles WHERE rolname = 'r_initech'") == [(False,)]


def _cli_refuses_unknown_stacks_and_unconfirmed_destroy(project: Project) -> None:
    unknown = paybill(project, "fleet", "preview", "--stack", "nope", "--json")
    assert unknown.returncode == 2
    assert json.loads(unknown.stdout)["error"]["field"] == "stack"
    assert not (project.root / "stacks" / "Pulumi.nope.yaml").exists()
    unconfirmed = paybill(project, "fleet", "destroy", "--stack", project.stack_name)
    assert unconfirmed.returncode == 2 and "--yes" in unconfirmed.stderr
    assert project.query("SELECT count(*) FROM pg_roles WHERE rolname = 'r_initech'") == [(1,)]
