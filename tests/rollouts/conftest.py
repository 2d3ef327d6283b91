"""Rollout fixtures: one throw-away project root per module (registry, state backend, embedded PostgreSQL),
the same layout the control-plane tests use."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.controlplane.conftest import Env


@pytest.fixture(scope="module")
def env(engine_available: None) -> Iterator[Env]:
    root = Path(tempfile.mkdtemp(prefix="paybill-rollout-"))
    environment = Env(root)
    yield environment
    environment.server.stop()
    shutil.rmtree(root, ignore_errors=True)
