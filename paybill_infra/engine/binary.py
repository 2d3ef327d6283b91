"""Locating the Pulumi CLI that ``scripts/install-pulumi`` built or found."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from paybill_infra.errors import EngineNotFoundError

PULUMI_VERSION = "3.274.1"
BIN_ENV = "PAYBILL_PULUMI_BIN"


def cache_bin_dir(version: str = PULUMI_VERSION) -> Path:
    base = os.environ.get("PAYBILL_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "paybill"
    )
    return Path(base) / "pulumi" / f"v{version}" / "bin"


def _version_tuple(text: str) -> tuple[int, ...]:
    core = text.strip().lstrip("v").split("-")[0].split("+")[0]
    return tuple(int(p) for p in core.split(".") if p.isdigit())


def pulumi_bin_dir() -> Path:
    """The directory holding ``pulumi`` (and its language host): ``$PAYBILL_PULUMI_BIN``, the project's
    cache, or a ``pulumi`` on PATH of at least :data:`PULUMI_VERSION`."""
    candidates: list[Path] = []
    if os.environ.get(BIN_ENV):
        candidates.append(Path(os.environ[BIN_ENV]))
    candidates.append(cache_bin_dir())
    on_path = shutil.which("pulumi")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    for directory in candidates:
        binary = directory / "pulumi"
        if not binary.is_file():
            continue
        out = subprocess.run(  # noqa: S603 - a candidate pulumi binary, no shell
            [str(binary), "version"], capture_output=True, text=True, check=False
        ).stdout
        if out and _version_tuple(out) >= _version_tuple(PULUMI_VERSION):
            return directory
    raise EngineNotFoundError(PULUMI_VERSION, [str(c) for c in candidates])
