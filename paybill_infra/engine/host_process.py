"""The shared dynamic-provider host as a child of this process: started on first use, stopped on close.

:class:`SharedProviderHost` runs :mod:`paybill_infra.engine.provider_host` once and hands every engine run
the variable that attaches it there (``PULUMI_DEBUG_PROVIDERS=pulumi-python:<port>``) instead of starting a
provider process of its own. A host that died (killed, out of memory) is started again by the next run that
asks for it; a run already attached to the dead one fails with ``UNAVAILABLE``, which the stack manager
retries as transient.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import threading
from collections.abc import Mapping
from typing import IO, cast

from paybill_infra.errors import EngineError

ATTACH_ENV = "PULUMI_DEBUG_PROVIDERS"
PACKAGE = "pulumi-python"
"""The package of ``pulumi.dynamic`` resources (provider type ``pulumi:providers:pulumi-python``)."""
START_TIMEOUT_S = 30.0


class SharedProviderHost:
    """One provider host process for every engine run of this process. ``env`` is the engine runs' own
    variables (with this process's lifeline mark), over this process's environment as the CLI gets them, so
    the host sees what a provider started by the engine would; ``project`` is the project the providers are
    configured for. Thread-safe."""

    def __init__(self, env: Mapping[str, str], *, project: str) -> None:
        self._env = dict(env)
        self.project = project
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._port = 0

    @property
    def pid(self) -> int | None:
        """The host's pid while it runs."""
        return self._process.pid if self._process is not None and self._process.poll() is None else None

    def engine_env(self) -> dict[str, str]:
        """The variables that attach an engine run to the host, started now if it does not run."""
        return {ATTACH_ENV: f"{PACKAGE}:{self.port()}"}

    def port(self) -> int:
        with self._lock:
            if self._process is None or self._process.poll() is not None:
                self._process, self._port = self._start()
            return self._port

    def _start(self) -> tuple[subprocess.Popen[bytes], int]:
        argv = [sys.executable, "-m", "paybill_infra.engine.provider_host", "--owner", str(os.getpid())]
        argv += ["--project", self.project]
        process = subprocess.Popen(  # noqa: S603 - this interpreter, our own module
            argv, env={**os.environ, **self._env}, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE
        )
        stdout = cast(IO[bytes], process.stdout)  # stdout=PIPE
        ready, _, _ = select.select([stdout], [], [], START_TIMEOUT_S)
        line = stdout.readline() if ready else b""
        if not line.strip().isdigit():
            process.kill()
            process.wait()
            raise EngineError(
                "-", "provider-host", "unexpected", f"the provider host did not report a port within {START_TIMEOUT_S}s"
            )
        return process, int(line)

    def stop(self) -> None:
        """Stop the host (engine runs still attached to it fail); idempotent."""
        with self._lock:
            process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process is not None and process.stdout is not None:
            process.stdout.close()
