"""The environment every engine run gets: an offline-safe, self-contained Pulumi setup.

By default the state lives in a file backend under ``<root>/.paybill/state`` and ``PULUMI_HOME`` under
``<root>/.paybill/pulumi-home``; ``PULUMI_BACKEND_URL`` (``s3://``, ``azblob://``, ``gs://``, Pulumi Cloud)
and ``PULUMI_CONFIG_PASSPHRASE[_FILE]`` in the caller's environment take precedence.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from paybill_infra.engine.binary import pulumi_bin_dir

DEV_PASSPHRASE = "paybill-local-dev"  # noqa: S105 - a documented development default, loudly warned about
_log = logging.getLogger("paybill_infra.engine")


@dataclass(frozen=True)
class EngineSettings:
    """Where a project's engine runs keep state and find their binaries."""

    root: Path
    backend_url: str
    pulumi_bin: Path | None
    """The directory of the ``pulumi`` CLI, or ``None``: looked up when a run first needs it (:meth:`bin_dir`)."""

    @classmethod
    def for_project(
        cls,
        root: Path,
        *,
        backend_url: str | None = None,
        environ: Mapping[str, str] | None = None,
        locate: bool = True,
    ) -> EngineSettings:
        """The settings of the project at ``root``. ``locate`` finds the CLI now, so a missing one fails before
        anything else; without it a process that only plans and reads never needs the CLI on its host."""
        env = os.environ if environ is None else environ
        root = root.resolve()
        url = backend_url or env.get("PULUMI_BACKEND_URL") or (root / ".paybill" / "state").as_uri()
        return cls(root=root, backend_url=url, pulumi_bin=pulumi_bin_dir() if locate else None)

    def bin_dir(self) -> Path:
        """The directory of the ``pulumi`` CLI (an :class:`~paybill_infra.errors.EngineNotFoundError` when
        there is none)."""
        return self.pulumi_bin if self.pulumi_bin is not None else pulumi_bin_dir()

    def env(self, environ: Mapping[str, str] | None = None) -> dict[str, str]:
        """Variables for the CLI and its plugins (the dynamic-provider host runs this interpreter)."""
        base = os.environ if environ is None else environ
        out = {
            "PULUMI_BACKEND_URL": self.backend_url,
            "PULUMI_HOME": base.get("PULUMI_HOME") or str(self.root / ".paybill" / "pulumi-home"),
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
            # A file backend's update history already holds a copy of every checkpoint; its "backups" folder
            # would hold a second one, never removed.
            "PULUMI_DIY_BACKEND_DISABLE_CHECKPOINT_BACKUPS": base.get("PULUMI_DIY_BACKEND_DISABLE_CHECKPOINT_BACKUPS")
            or "true",
            "PULUMI_PYTHON_CMD": sys.executable,
            "PATH": os.pathsep.join([str(self.bin_dir()), str(Path(sys.executable).parent), base.get("PATH", "")]),
        }
        if not base.get("PULUMI_CONFIG_PASSPHRASE") and not base.get("PULUMI_CONFIG_PASSPHRASE_FILE"):
            _log.warning(
                "PULUMI_CONFIG_PASSPHRASE is not set: using the public development passphrase %r. "
                "Secrets in this state are NOT protected; set a passphrase or a KMS secrets provider "
                "before storing anything real.",
                DEV_PASSPHRASE,
            )
            out["PULUMI_CONFIG_PASSPHRASE"] = DEV_PASSPHRASE
        if self.backend_url.startswith("file://"):
            Path(self.backend_url.removeprefix("file://")).mkdir(parents=True, exist_ok=True)
        Path(out["PULUMI_HOME"]).mkdir(parents=True, exist_ok=True)
        return out
