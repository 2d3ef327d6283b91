"""Run a Pulumi program under mocks and hand back every registration and the program's resolved outputs.

Assertions run after the program finished (``@pulumi.runtime.test`` waits for every outstanding registration),
so a failing assertion in a user's test is a plain test failure, not an exception lost inside an ``apply``.
One program runs at a time per process: Pulumi's mock runtime is process-wide.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime.mocks import MockMonitor, MockResourceArgs, Mocks
from pulumi.runtime.settings import get_root_resource, set_root_resource

from paybill_infra.testing.mocks import CloudMocks

_ONE_AT_A_TIME = threading.Lock()


@dataclass(frozen=True)
class Registered:
    """One registered resource: its type token, name, inputs and the options mocks do not pass on."""

    urn: str
    type: str
    name: str
    custom: bool
    inputs: dict[str, Any]
    parent_types: tuple[str, ...]
    protect: bool
    retain_on_delete: bool
    dependencies: tuple[str, ...]

    @property
    def chain(self) -> tuple[str, ...]:
        return (*self.parent_types, self.type)


@dataclass
class ProgramRun:
    """Everything a program registered, and its outputs (with which of them are secret)."""

    resources: list[Registered]
    outputs: dict[str, Any]
    secret: dict[str, bool] = field(default_factory=dict)

    def of_type(self, *types: str) -> list[Registered]:
        return [r for r in self.resources if r.type in types]

    def types(self) -> set[str]:
        return {r.type for r in self.resources}

    def under(self, component_type: str) -> list[Registered]:
        return [r for r in self.resources if component_type in r.parent_types]


class _RecordingMonitor(MockMonitor):
    """The mock monitor, also keeping the options mocks do not pass on (protect, retainOnDelete, dependencies)."""

    def __init__(self, mocks: Mocks) -> None:
        super().__init__(mocks)
        self.options: dict[str, tuple[bool, bool, tuple[str, ...]]] = {}

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - the gRPC method name
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        self.options[response.urn] = (bool(request.protect), bool(request.retainOnDelete), tuple(request.dependencies))
        return response


class _Recording(Mocks):
    def __init__(self, inner: Mocks) -> None:
        self.inner = inner
        self.custom: dict[tuple[str, str], bool] = {}
        self.inputs: dict[tuple[str, str], dict[str, Any]] = {}

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        self.custom[(args.typ, args.name)] = bool(args.custom)
        self.inputs[(args.typ, args.name)] = dict(args.inputs)
        return self.inner.new_resource(args)

    def call(self, args: Any) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return self.inner.call(args)


def _parse(urn: str) -> tuple[tuple[str, ...], str, str]:
    qualified, name = urn.split("::")[2], urn.split("::")[3]
    chain = tuple(qualified.split("$"))
    return chain[:-1], chain[-1], name


def run_program(
    program: Callable[[], Mapping[str, pulumi.Input[Any]] | None],
    *,
    mocks: Mocks | None = None,
    project: str = "paybill",
    stack: str = "test",
) -> ProgramRun:
    """Run ``program`` under ``mocks`` (default: :class:`CloudMocks`). The program may return the outputs to
    resolve; outputs it ``pulumi.export``-s are resolved too.

    Not to be mixed with real Pulumi programs in one process: Pulumi's runtime settings leak between
    contexts, so the control plane runs its mock runs in a worker process
    (:mod:`paybill_infra.targets.isolated`)."""
    with _ONE_AT_A_TIME:
        _ensure_loop()
        return _run(program, _Recording(mocks or CloudMocks()), project, stack)


def _ensure_loop() -> None:
    """An event loop for this thread (Pulumi's ``_sync_await`` needs one): created when the thread has none,
    or when an ``asyncio.run`` elsewhere in the process left the main thread without one."""
    try:
        loop = asyncio.get_event_loop_policy().get_event_loop()
    except RuntimeError:
        loop = None
    if loop is None or loop.is_closed():
        asyncio.set_event_loop(asyncio.new_event_loop())


def _run(
    program: Callable[[], Mapping[str, pulumi.Input[Any]] | None], mocks: _Recording, project: str, stack: str
) -> ProgramRun:
    monitor = _RecordingMonitor(mocks)
    set_root_resource(None)  # type: ignore[arg-type]  # each run starts a new root stack (its exports)
    pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=False, monitor=monitor)
    resolved: dict[str, Any] = {}
    secret: dict[str, bool] = {}

    @pulumi.runtime.test  # type: ignore[untyped-decorator]
    def body() -> pulumi.Output[Any]:
        returned = program() or {}
        root = get_root_resource()
        exported: dict[str, Any] = dict(getattr(root, "outputs", {}) or {})
        outputs = {k: pulumi.Output.from_input(v) for k, v in {**exported, **returned}.items()}
        flags: dict[str, pulumi.Output[bool]] = {k: pulumi.Output.from_input(v.is_secret()) for k, v in outputs.items()}
        return pulumi.Output.all(pulumi.Output.all(**outputs), pulumi.Output.all(**flags)).apply(
            lambda pair: (resolved.update(pair[0]), secret.update(pair[1]))
        )

    body()
    resources = []
    for urn in monitor.get_registered_resources():
        parents, typ, name = _parse(urn)
        protect, retain, deps = monitor.options.get(urn, (False, False, ()))
        resources.append(
            Registered(
                urn,
                typ,
                name,
                mocks.custom.get((typ, name), False),
                mocks.inputs.get((typ, name), {}),
                parents,
                protect,
                retain,
                deps,
            )
        )
    return ProgramRun(resources, resolved, secret)
