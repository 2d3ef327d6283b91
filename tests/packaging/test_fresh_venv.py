"""A platform team's first hour, outside this repository: the built wheel installed into a new venv, the
shipped sample catalog written by ``paybill plans init``, the README's composing snippet run under
``paybill_infra.testing``'s mocks, and ``mypy --strict`` on the user's program (``py.typed`` shipped)."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
UV = Path(sys.executable).parent / "uv"
TEST_PROGRAM = '''"""The user's own unit test of their program, as the README suggests."""
import runpy

from paybill_infra.testing import run_program


def program() -> None:
    runpy.run_path("program.py")


def test_program_builds_its_tenants() -> None:
    run = run_program(program)
    assert set(run.outputs) == {"acme", "globex"}
    assert run.outputs["acme"]["host"].endswith(".rds.amazonaws.com")
    assert run.secret["acme"]
    assert run.of_type("paybill:aws:SiloTenant") and run.of_type("paybill:aws:PooledTenant")
'''


def readme_snippet() -> str:
    section = (REPO / "README.md").read_text().split("## Composing the components in your own program", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match is not None
    return match.group(1)


def run(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, f"{args}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    run(UV, "build", "--wheel", "--out-dir", out, REPO, cwd=REPO)
    [built] = out.glob("paybill_infra-*.whl")
    return built


def test_the_wheel_ships_type_information_and_the_sample_catalog(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"paybill_infra/py.typed", "agent_acl/py.typed", "paybill_infra/sample_plans.yaml"} <= names
    assert {"paybill_infra/testing/__init__.py", "paybill_infra/service/static/console.js"} <= names


def test_the_readme_snippet_runs_and_type_checks_in_a_fresh_venv(wheel: Path, tmp_path: Path) -> None:
    venv, project = tmp_path / "venv", tmp_path / "project"
    project.mkdir()
    run(UV, "venv", "--python", sys.executable, venv, cwd=tmp_path)
    python = venv / "bin" / "python"
    run(UV, "pip", "install", "--python", python, f"{wheel}[aws]", "mypy>=1.13,<3", "pytest>=8.3,<10", cwd=tmp_path)

    run(venv / "bin" / "paybill", "plans", "init", cwd=project)
    (project / "program.py").write_text(readme_snippet())
    (project / "test_program.py").write_text(TEST_PROGRAM)
    tested = run(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_program.py", cwd=project)
    assert "1 passed" in tested.stdout
    checked = run(python, "-m", "mypy", "--strict", "program.py", "test_program.py", cwd=project)
    assert "Success: no issues found in 2 source files" in checked.stdout
