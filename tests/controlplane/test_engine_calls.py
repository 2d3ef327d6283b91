"""How many ``pulumi`` processes each stack operation spawns, counted by a wrapper binary on the real engine.

Every extra CLI process costs a start-up and a passphrase key derivation, so the count is the contract:
``up`` of a new stack is ``stack init`` + ``up``; every later operation is the operation alone (no
``stack select``, no ``stack output``, no ``stack history``); revealing secret outputs adds one
``stack output --show-secrets``; ``destroy`` adds the ``stack rm`` that removes the stack.
"""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path

import pulumi
import pytest

from paybill_infra.controlplane import OperationStatus
from paybill_infra.controlplane.stacks import StackManager
from paybill_infra.engine.binary import BIN_ENV, pulumi_bin_dir
from paybill_infra.engine.settings import EngineSettings
from paybill_infra.errors import InvalidInputError

from .conftest import Env


class Calls:
    """The wrapper's log: one line of arguments per ``pulumi`` process."""

    def __init__(self, log: Path) -> None:
        self.log = log

    def take(self) -> list[str]:
        lines = self.log.read_text().splitlines() if self.log.exists() else []
        self.log.write_text("")
        return [_command(line) for line in lines]


def _command(line: str) -> str:
    """``up``, ``stack init``, ``stack output``...: the words before the first flag."""
    words = [w for w in shlex.split(line) if w != "--non-interactive"]
    command = []
    for word in words:
        if word.startswith("-"):
            break
        command.append(word)
    return " ".join(command[:2] if command[:1] == ["stack"] else command[:1])


def wrap_pulumi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Calls:
    """Put a ``pulumi`` that logs its arguments before the real one (``PAYBILL_PULUMI_BIN``)."""
    real = pulumi_bin_dir()
    fake = tmp_path / "pulumi-root" / "bin"
    fake.mkdir(parents=True)
    log = tmp_path / "calls.log"
    for plugin in real.iterdir():
        if plugin.name != "pulumi":
            (fake / plugin.name).symlink_to(plugin)
    wrapper = fake / "pulumi"
    wrapper.write_text(
        f'#!/bin/sh\necho "$*" >> {shlex.quote(str(log))}\nexec {shlex.quote(str(real / "pulumi"))} "$@"\n'
    )
    wrapper.chmod(0o755)
    monkeypatch.setenv(BIN_ENV, str(fake))
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", os.environ.get("PULUMI_CONFIG_PASSPHRASE", "test-passphrase"))
    return Calls(log)


@pytest.fixture
def counted(engine_available: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[StackManager, Calls]:
    calls = wrap_pulumi(tmp_path, monkeypatch)
    root = tmp_path / "project"
    settings = EngineSettings.for_project(root, backend_url=(root / "state").as_uri())
    manager = StackManager(settings, state_dir=root / ".paybill")
    assert calls.take() == ["version"]  # finding the binary; the manager's own check waits for its first run
    return manager, calls


def _program() -> None:
    pulumi.export("endpoint", {"host": "db.internal", "port": 5432})
    pulumi.export("password", pulumi.Output.secret("s3cret"))


def test_each_operation_runs_only_itself(counted: tuple[StackManager, Calls]) -> None:
    stacks, calls = counted

    first = stacks.run("t-1", "up", _program)
    assert calls.take() == ["version", "stack init", "up"]
    assert first.change.changes == {"create": 1}
    assert first.outputs == {"endpoint": {"host": "db.internal", "port": 5432}}
    assert first.secret_keys == {"password"}

    again = stacks.run("t-1", "up", _program)
    assert calls.take() == ["up"]
    assert again.change.changes == {"same": 1}
    assert again.outputs == first.outputs

    revealed = stacks.run("t-1", "up", _program, reveal=True)
    assert calls.take() == ["up", "stack output"]
    assert revealed.outputs["password"] == "s3cret"

    assert stacks.run("t-1", "preview", _program).change.changes == {"same": 1}
    assert calls.take() == ["preview"]
    assert stacks.run("t-1", "refresh", _program).change.changes == {"same": 1}
    assert calls.take() == ["refresh"]
    assert stacks.outputs("t-1", _program)["password"] == "s3cret"
    assert calls.take() == ["stack output"]

    gone = stacks.run("t-1", "destroy", _program)
    assert calls.take() == ["destroy", "stack rm"]
    assert gone.change.changes == {"delete": 1}
    assert not stacks.exists("t-1")


def test_a_nested_secret_keeps_the_whole_output_out_of_the_public_outputs(
    counted: tuple[StackManager, Calls],
) -> None:
    stacks, calls = counted

    def program() -> None:
        pulumi.export("server", {"host": "h", "password": pulumi.Output.secret("p")})

    outcome = stacks.run("t-2", "up", program)
    assert outcome.outputs == {}
    assert outcome.secret_keys == {"server"}
    assert calls.take() == ["version", "stack init", "up"]


def test_onboarding_k_pooled_tenants_into_one_pool_runs_one_up(
    env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = wrap_pulumi(tmp_path, monkeypatch)
    slugs = [f"batch-{i}" for i in range(4)]
    with env.plane() as plane:
        calls.take()
        requests = [{"slug": s, "display_name": s, "plan": "team"} for s in [*slugs, slugs[0]]]
        *outcomes, duplicate = plane.onboard_many(requests)
        assert [getattr(o, "status", o) for o in outcomes] == [OperationStatus.SUCCEEDED] * len(slugs)
        assert isinstance(duplicate, InvalidInputError)
        assert "requests[4].slug" in str(duplicate)
        views = [plane.show(s) for s in slugs]
    assert len({v.pool for v in views}) == 1
    assert calls.take() == ["version", "stack init", "up"]
    database = views[0].database or ""
    mapped = {row[0] for row in env.query("SELECT tenant_id FROM paybill.tenant_roles", dbname=database)}
    assert mapped == set(slugs)


def test_a_file_backend_keeps_only_the_newest_updates_of_a_stack(engine_available: None, tmp_path: Path) -> None:
    """The file backend copies the whole checkpoint into its history on every update (and, unless told not
    to, into a backups folder too) and never removes one: a pool's disk use would grow by its whole state
    with every tenant operation. The manager keeps the newest ``history`` updates and no backups."""
    root = tmp_path / "project"
    settings = EngineSettings.for_project(root, backend_url=(root / "state").as_uri())
    stacks = StackManager(settings, state_dir=root / ".paybill", history=2)
    for _ in range(4):
        stacks.run("t-h", "up", _program)
    folder = root / "state" / ".pulumi" / "history" / stacks.project / "t-h"
    kept = sorted(p.name.split(".")[0] for p in folder.glob("*.history.json"))
    assert len(kept) == 2 and len(list(folder.glob("*.checkpoint.json"))) == 2
    assert all(json.loads((folder / f"{u}.history.json").read_text())["kind"] == "update" for u in kept)
    assert not list((root / "state" / ".pulumi").glob("backups/**/*.json"))
    assert stacks.prune_history("t-h") == 0  # already within the limit
