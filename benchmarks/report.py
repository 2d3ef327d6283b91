"""What the benchmark scripts share: a scratch server, percentiles, and rewriting their section of BENCHMARKS.md."""

from __future__ import annotations

import argparse
import os
import re
import resource
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from paybill_infra.local.server import AdminConnection, EmbeddedServer, ServerSpec, admin_connection


def process_cpu() -> float:
    """CPU seconds (user and system) of this process and its finished children: the engine, its plugins
    and the dynamic providers are children, so an engine run's whole cost is counted."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(work: Callable[[], object]) -> tuple[float, float]:
    """Wall and CPU seconds (:func:`process_cpu`) of ``work()``."""
    cpu, started = process_cpu(), time.perf_counter()
    work()
    return time.perf_counter() - started, process_cpu() - cpu


def load_arguments(doc: str | None, *, calls: int) -> argparse.Namespace:
    """The options of the database benchmarks: data size (``--rows`` over ``--tenants``), timed ``--calls``,
    and ``--no-write`` for a look that leaves BENCHMARKS.md alone."""
    parser = argparse.ArgumentParser(description=(doc or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--tenants", type=int, default=100)
    parser.add_argument("--calls", type=int, default=calls)
    parser.add_argument("--no-write", action="store_true")
    return parser.parse_args()


@contextmanager
def scratch_server(prefix: str) -> Iterator[AdminConnection]:
    """``PAYBILL_PG_URL`` when set, else an embedded PostgreSQL in a temporary directory, stopped and removed
    at the end."""
    url = os.environ.get("PAYBILL_PG_URL")
    if url:
        yield admin_connection(ServerSpec(url=url))
        return
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        server = EmbeddedServer(Path(tmp))
        try:
            yield server.ensure_running()
        finally:
            server.stop()


def percentile(samples: list[float], q: float) -> float:
    """The nearest-rank ``q`` quantile (0..1) of ``samples``."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def write_section(path: Path, begin: str, end: str, text: str) -> None:
    """Replace the text between ``begin`` and ``end`` in ``path`` (appending the block when it is missing)."""
    current = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    block = f"{begin}\n{text.rstrip()}\n{end}"
    if begin in current and end in current:
        current = re.sub(re.escape(begin) + r".*?" + re.escape(end), lambda _: block, current, flags=re.S)
    else:
        current = current.rstrip() + "\n\n" + block + "\n"
    path.write_text(current if current.endswith("\n") else current + "\n", encoding="utf-8")
