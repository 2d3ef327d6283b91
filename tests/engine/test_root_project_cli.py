"""The root project (Pulumi.yaml + stacks/) through the plain `pulumi` CLI and the Python language host,
exactly as `make demo` and a user's shell run it."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest

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
    assert pulumi(project, "preview", "--expect-no-changes").returncode == 0
    out = pulumi(project, "stack", "output", "credentials").stdout
    assert "[secret]" in out
    assert project.query("SELECT datname FROM pg_database WHERE datname = 'd_acme'") == [("d_acme",)]

    broken = project.root / "stacks" / f"Pulumi.{project.stack_name}.yaml"
    good = broken.read_text()
    broken.write_text(good.replace("slug: initech", "slug: Initech;DROP"))
    failed = pulumi(project, "preview", check=False)
    assert failed.returncode != 0 and "tenants[2]" in failed.stdout + failed.stderr
    broken.write_text(good)

    pulumi(project, "destroy", "--yes", "--skip-preview")
    assert project.query("SELECT count(*) FROM pg_roles WHERE rolname LIKE 't\\_%'") == [(0,)]
