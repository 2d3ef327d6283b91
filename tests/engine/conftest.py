"""Engine fixtures: throw-away copies of the root project, each with its own file backend and embedded
PostgreSQL, driven by the real Pulumi CLI."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from paybill_infra.engine import EngineSettings, FleetStack, pulumi_bin_dir
from paybill_infra.local.server import AdminConnection, EmbeddedServer

PROJECT_FILES = ("Pulumi.yaml", "__main__.py", "plans.yaml")


class Project:
    """A copy of the root project in a temp dir: stack config is rewritten per test."""

    def __init__(self, root: Path, repo: Path, stack: str = "test") -> None:
        self.root = root
        self.stack_name = stack
        for name in PROJECT_FILES:
            shutil.copy(repo / name, root / name)
        (root / ".venv").symlink_to(repo / ".venv")
        (root / "stacks").mkdir()
        self.server = EmbeddedServer(root / ".paybill" / "postgres")
        self.settings = EngineSettings(root=root, backend_url=(root / "state").as_uri(), pulumi_bin=pulumi_bin_dir())
        self.fleet = FleetStack(self.settings, stack)

    def configure(self, tenants: list[dict[str, Any]], **extra: str) -> None:
        path = self.root / "stacks" / f"Pulumi.{self.stack_name}.yaml"
        current = yaml.safe_load(path.read_text()) if path.exists() else {}
        current["config"] = {
            "paybill:cloud": "local",
            "paybill:tenants": tenants,
            **{f"paybill:{key}": value for key, value in extra.items()},
        }
        path.write_text(yaml.safe_dump(current))

    def admin(self) -> AdminConnection:
        return self.server.ensure_running()

    def query(self, sql: str, *params: object, dbname: str = "postgres") -> list[tuple[Any, ...]]:
        with psycopg.connect(self.admin().conninfo(dbname), autocommit=True) as conn:
            cur = conn.execute(sql, params or None)
            return cur.fetchall() if cur.description else []

    def credentials(self) -> dict[str, str]:
        value: dict[str, str] = self.fleet.stack.outputs()["credentials"].value
        return value


ProjectFactory = Callable[[list[dict[str, Any]]], Project]


@contextmanager
def project_factory(server_scratch: Path, repo: Path) -> Iterator[ProjectFactory]:
    """Make projects on demand; stop their embedded servers when the scope ends."""
    made: list[Project] = []

    def make(tenants: list[dict[str, Any]]) -> Project:
        project = Project(Path(tempfile.mkdtemp(prefix="project-", dir=server_scratch)), repo)
        project.configure(tenants)
        made.append(project)
        return project

    yield make
    for project in made:
        project.server.stop()


@pytest.fixture
def make_project(server_scratch: Path, repo_root: Path, engine_available: None) -> Iterator[ProjectFactory]:
    with project_factory(server_scratch, repo_root) as make:
        yield make


@pytest.fixture(scope="module")
def make_module_project(server_scratch: Path, repo_root: Path, engine_available: None) -> Iterator[ProjectFactory]:
    with project_factory(server_scratch, repo_root) as make:
        yield make
