"""Every ``examples/<cloud>-<topology>`` project installs and runs as its README says: a requirements file
that resolves from the example's folder, one region setting read by the program (and pinning the provider),
a README about its own topology, ``venv/`` ignored, and a mock-based pytest beside the program (collected
by this suite through ``testpaths``, so each example's own test runs in ``make test``)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
CASES = ("aws-silo", "azure-bridge", "gcp-pooled", "ibm-silo", "oci-bridge")


def test_examples_cover_every_cloud_and_topology() -> None:
    found = {p.parent.name for p in EXAMPLES.glob("*-*/Pulumi.yaml")}
    assert found == set(CASES)
    assert {name.split("-")[1] for name in CASES} == {"silo", "pooled", "bridge"}
    assert "examples" in (REPO / "pyproject.toml").read_text().split("testpaths", 1)[1].split("\n", 1)[0]


@pytest.mark.parametrize("example", CASES)
def test_example_installs_and_configures_as_its_readme_says(example: str) -> None:
    folder = EXAMPLES / example
    cloud, topology = example.split("-")
    requirement = next(
        line for line in (folder / "requirements.txt").read_text().splitlines() if line and not line.startswith("#")
    )
    path, extra = re.fullmatch(r"(\S+)\[(\w+)\]", requirement).groups()  # type: ignore[union-attr]
    assert (folder / path / "pyproject.toml").is_file() and extra == cloud

    program, readme = (folder / "__main__.py").read_text(), (folder / "README.md").read_text()
    namespace, key = re.search(r'region = pulumi\.Config\("([\w-]+)"\)\.get\("(\w+)"\)', program).groups()  # type: ignore[union-attr]
    assert namespace != "paybill" and f"pulumi config set {namespace}:{key} " in readme
    for required in re.findall(r'pulumi\.Config\("([\w-]+)"\)\.require\("(\w+)"\)', program):
        assert f"pulumi config set {':'.join(required)} " in readme, required
    if cloud != "ibm":
        assert "providers=[provider]" in program and "region" in program.split("Provider(", 1)[1].split(")", 1)[0]
    assert f"**{topology}**" in readme
    assert all(f"**{other}**" not in readme for other in {"silo", "pooled", "bridge"} - {topology})
    assert (topology == "silo") == ("Silo data" in readme)
    assert (folder / f"test_{example.replace('-', '_')}.py").is_file()
    venv = f"examples/{example}/venv/bin/python"
    assert subprocess.run(["git", "check-ignore", "-q", venv], cwd=REPO, check=False).returncode == 0
