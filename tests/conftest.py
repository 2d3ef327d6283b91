"""Shared fixtures: a real PostgreSQL for the whole session (the embedded server, or ``PAYBILL_PG_URL``).

In CI (``CI=true``) nothing here is ever skipped: a missing server or engine is a failure.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from paybill_infra.engine import pulumi_bin_dir
from paybill_infra.errors import EngineNotFoundError
from paybill_infra.local.server import AdminConnection, EmbeddedServer, ServerSpec, admin_connection

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

# Tests make their own backends and homes: a developer's sourced `.paybill/env` (or any shell setting) must not
# point them all at one shared state backend, where stacks of different test modules would collide.
for _leaky in ("PULUMI_BACKEND_URL", "PULUMI_HOME", "PULUMI_CONFIG_PASSPHRASE", "PULUMI_CONFIG_PASSPHRASE_FILE"):
    os.environ.pop(_leaky, None)


@pytest.fixture(scope="session")
def engine_available() -> None:
    """The Pulumi CLI is there; outside CI its absence skips (saying why), in CI it fails the test."""
    try:
        pulumi_bin_dir()
    except EngineNotFoundError as err:
        if IN_CI:
            raise
        pytest.skip(f"no Pulumi CLI: run `make engine` first ({err})")


@pytest.fixture(scope="session")
def server_scratch() -> Iterator[Path]:
    """A session directory for embedded servers, outside pytest's own temp root.

    As root, PostgreSQL runs as a separate system user that must traverse to its data directory; pytest
    (re)sets ``/tmp/pytest-of-<user>`` to mode 0700 whenever a session starts, which would lock a running
    server out of its files.
    """
    base = Path(tempfile.mkdtemp(prefix="paybill-tests-"))
    yield base
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_admin(server_scratch: Path) -> Iterator[AdminConnection]:
    """Superuser connection to a real PostgreSQL 18 (embedded, in a session server_scratch dir)."""
    url = os.environ.get("PAYBILL_PG_URL")
    if url:
        yield admin_connection(ServerSpec(url=url))
        return
    server = EmbeddedServer(server_scratch / "pg")
    yield server.ensure_running()
    server.stop()


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent
