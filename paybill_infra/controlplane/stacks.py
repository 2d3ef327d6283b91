"""Stacks: deterministic names, one work dir each, one shared ``PulumiCommand``, and crash repair.

Why this shape (see the engine notes, §4):

- Every ``LocalWorkspace`` runs ``pulumi version`` unless handed a ``PulumiCommand``; one shared command
  saves a process per stack and pins every stack to the same CLI.
- Parallel stacks must not share a work dir: ``create/select`` rewrite ``Pulumi.yaml`` and the workspace
  file under ``PULUMI_HOME`` (pulumi#8186, #6287). Each stack gets ``<state>/work/<stack>``.
- An operation spawns one CLI process, the operation itself (see :class:`_Stack`): a stack that exists is
  never ``stack select``-ed (every command passes ``--stack``), and the outputs and change summary come from
  the operation's own event stream instead of two ``stack output`` and one ``stack history`` afterwards.
  Only a caller that needs secret output values in memory pays one ``stack output --show-secrets``.
- With ``shared_provider_host`` every engine run attaches to one dynamic-provider process that lives as long
  as this manager's process (:mod:`paybill_infra.engine.provider_host`) instead of starting its own: 1.6-2.6x
  less CPU per run, that process's own CPU included (``BENCHMARKS.md``, "A shared provider host").
- Names are pure functions of the registry (plan, pool ordinal, slug, isolation), so the same registry
  always maps to the same stacks, and a crash can be repaired by name.

Crash repair (:meth:`StackManager.repair`): the DIY backend leaves a lock file and the checkpoint may hold
``pending_operations``. A lock is cleared (``stack.cancel()``) only when its holder process is gone. Each
pending *create* may have created its object before the crash without recording it, so its object is
deleted through the resource's own provider (idempotent, ``IF EXISTS``) before the pending list is dropped
by export/import; the next ``up`` then creates it again from scratch and converges.
"""

from __future__ import annotations

import json
import os
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import tenacity
from pulumi import automation as auto

from paybill_infra import lifeline
from paybill_infra.controlplane.models import StackChange
from paybill_infra.controlplane.secrets import SecretsConfig
from paybill_infra.engine.diffs import ChangeLog
from paybill_infra.engine.errors import map_engine_error
from paybill_infra.engine.host_process import SharedProviderHost
from paybill_infra.engine.settings import EngineSettings
from paybill_infra.errors import EngineError
from paybill_infra.local.provider import (
    BridgeSchemaProvider,
    LoginRoleProvider,
    PooledMembershipProvider,
    PostgresProvider,
    SharedPlatformProvider,
    SiloDatabaseProvider,
)
from paybill_infra.targets.base import StackResource

# Re-exported: the control plane names its in-database objects through the one naming scheme.
from paybill_infra.topology.naming import pool_database as pool_database
from paybill_infra.topology.naming import pool_owner as pool_owner
from paybill_infra.topology.naming import tenant_role as tenant_role

DEFAULT_PROJECT = "paybill-tenants"
DEFAULT_HISTORY = 20
"""Updates a file backend keeps per stack in its history (see :meth:`StackManager.prune_history`)."""
_HISTORY_FILE = re.compile(r"^(?P<update>.+-(?P<at>\d+))\.(?:history|checkpoint)\.json")
PLATFORM_STACK = "platform"
SECRETS_SCHEMES = ("passphrase", "awskms://", "azurekeyvault://", "gcpkms://", "hashivault://")
TRANSIENT = re.compile(
    r"UNAVAILABLE|too many clients|could not connect|connection refused|database system is starting up|"
    r"tuple concurrently updated|deadlock detected|currently locked|Socket closed|failed to connect|"
    r"provisioning busy",
    re.IGNORECASE,
)
_PROVIDERS: dict[str, type[PostgresProvider]] = {
    "LoginRole": LoginRoleProvider,
    "SharedPlatform": SharedPlatformProvider,
    "SiloDatabase": SiloDatabaseProvider,
    "BridgeSchema": BridgeSchemaProvider,
    "PooledMembership": PooledMembershipProvider,
}


@dataclass
class RetryPolicy:
    """Retries with exponential backoff (``base_delay_s`` doubling up to ``max_delay_s``, run by tenacity) for
    engine failures that a second try can fix."""

    attempts: int = 3
    base_delay_s: float = 0.5
    max_delay_s: float = 8.0


def is_transient(err: EngineError) -> bool:
    return err.kind == "concurrent_update" or TRANSIENT.search(err.detail) is not None


@dataclass
class RunOutcome:
    change: StackChange
    outputs: dict[str, Any] = field(default_factory=dict)
    """Every output, secrets included (masking is the caller's job before anything is stored)."""
    secret_keys: frozenset[str] = frozenset()
    attempts: int = 1


class StackManager:
    """Creates, selects, runs and repairs the control plane's stacks."""

    def __init__(
        self,
        settings: EngineSettings,
        *,
        state_dir: Path,
        project: str = DEFAULT_PROJECT,
        secrets: SecretsConfig | None = None,
        retry: RetryPolicy | None = None,
        parallel: int = 8,
        history: int = DEFAULT_HISTORY,
        shared_provider_host: bool = False,
    ) -> None:
        self.settings = settings
        self.shared_provider_host = shared_provider_host
        self.history = history
        self.project = project
        self.secrets = secrets or SecretsConfig()
        self.retry = retry or RetryPolicy()
        self.parallel = parallel
        self.work_root = state_dir / "work"
        self._guard = threading.Lock()
        self._host_lock = threading.Lock()
        self._provider_host: SharedProviderHost | None = None

    @cached_property
    def _env(self) -> dict[str, str]:
        """The engine runs' environment, built on first use (it names the CLI's directory)."""
        return lifeline.marked(self.settings.env())

    @property
    def provider_host(self) -> SharedProviderHost:
        """The one dynamic-provider host every engine run attaches to, with ``shared_provider_host`` (its
        process is started by the first run that needs it). One per manager, whichever thread asks first."""
        with self._host_lock:
            if self._provider_host is None:
                self._provider_host = SharedProviderHost(self._env, project=self.project)
            return self._provider_host

    def engine_env(self) -> dict[str, str]:
        """The environment of one engine run: the manager's own, attached to the shared provider host when
        that is on (asked per run: a host that died is started again)."""
        if not self.shared_provider_host:
            return self._env
        return {**self._env, **self.provider_host.engine_env()}

    def close(self) -> None:
        """Stop the shared provider host, if one was started."""
        if self._provider_host is not None:
            self._provider_host.stop()

    @cached_property
    def command(self) -> auto.PulumiCommand:
        """The one CLI every stack runs, created (``pulumi version``) on first use: a control plane opened
        only to read the registry never starts it."""
        return auto.PulumiCommand(root=str(self.settings.bin_dir().parent))

    def work_dir(self, stack: str) -> Path:
        path = self.work_root / stack
        path.mkdir(parents=True, exist_ok=True)
        return path

    def select(self, stack: str, program: Callable[[], None], *, run: bool = False) -> _Stack:
        """A handle on ``stack`` with ``program``. A stack that exists costs no process; a new one is created
        (``stack init``, where the secrets provider applies). Off a file backend, existence is not visible
        without the CLI, so the stack is created or selected. ``run``: the handle runs an operation that may
        call providers (see :meth:`engine_env`)."""
        workspace = auto.LocalWorkspace(
            work_dir=str(self.work_dir(stack)),
            program=program,
            pulumi_command=self.command,
            env_vars=self.engine_env() if run else self._env,
            secrets_provider=self.secrets.for_workspace(),
            project_settings=auto.ProjectSettings(name=self.project, runtime="python"),
        )
        try:
            if not self.settings.backend_url.startswith("file://"):
                auto.Stack.create_or_select(stack, workspace)
            elif not self.exists(stack):
                workspace.create_stack(stack)
        except auto.CommandError as err:
            raise map_engine_error(err, stack=stack, operation="select") from None
        return _Stack(stack, workspace)

    def exists(self, stack: str) -> bool:
        return self._stack_file(stack).exists()

    def run(
        self,
        stack: str,
        operation: str,
        program: Callable[[], None],
        *,
        on_event: Callable[[auto.EngineEvent], None] | None = None,
        reveal: bool = False,
        target: tuple[str, ...] = (),
    ) -> RunOutcome:
        """Run ``up``/``preview``/``refresh``/``destroy`` (or ``preview-destroy``, the engine's own preview of
        a destroy) with retries on transient failures. ``destroy`` also removes the stack (and its work dir)
        so nothing of it is left. The outcome of an ``up`` holds the public outputs; secret values too only
        with ``reveal`` (one more CLI process). A preview's change lists each resource it would change with
        the changed property paths.

        ``target`` restricts an ``up`` to those URNs and their dependents (a component's children among
        them), and a ``refresh`` to those URNs. The engine keeps every other resource of the checkpoint as it
        is, registered by the program or not; a target the program registers but the checkpoint lacks is
        created, and a target in the checkpoint the program no longer registers is deleted."""

        def before_sleep(state: tenacity.RetryCallState) -> None:
            err = state.outcome.exception() if state.outcome is not None else None
            if isinstance(err, EngineError) and err.kind == "concurrent_update":
                self.clear_stale_lock(stack)

        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.retry.attempts),
            wait=tenacity.wait_exponential(multiplier=self.retry.base_delay_s, max=self.retry.max_delay_s),
            retry=tenacity.retry_if_exception(lambda err: isinstance(err, EngineError) and is_transient(err)),
            before_sleep=before_sleep,
            reraise=True,
        )
        outcome = retrying(self._run_once, stack, operation, program, on_event, reveal, target)
        outcome.attempts = retrying.statistics["attempt_number"]
        if operation in ("up", "refresh"):
            self.prune_history(stack)
        return outcome

    def prune_history(self, stack: str) -> int:
        """Keep only the newest :attr:`history` updates of ``stack`` in a file backend's history; returns how
        many were removed. That backend copies the whole checkpoint into the history on every update and
        never removes one, so without this a pool's history would grow by the whole pool's state with every
        tenant operation. Other backends keep their own history: nothing to do."""
        if not self.settings.backend_url.startswith("file://"):
            return 0
        folder = self._backend_dir() / ".pulumi" / "history" / self.project / stack
        files: dict[tuple[int, str], list[Path]] = {}
        for path in folder.glob("*") if folder.is_dir() else ():
            match = _HISTORY_FILE.match(path.name)
            if match is not None:
                files.setdefault((int(match["at"]), match["update"]), []).append(path)
        stale = sorted(files)[: max(len(files) - self.history, 0)]
        for update in stale:
            for path in files[update]:
                path.unlink(missing_ok=True)
        return len(stale)

    def _run_once(
        self,
        stack: str,
        operation: str,
        program: Callable[[], None],
        on_event: Callable[[auto.EngineEvent], None] | None,
        reveal: bool,
        target: tuple[str, ...],
    ) -> RunOutcome:
        handle = self.select(stack, program, run=True)
        observe = handle.observer(on_event)
        targets = list(target) or None
        try:
            if operation == "up":
                up = handle.up(
                    color="never",
                    parallel=self.parallel,
                    on_event=observe,
                    target=targets,
                    target_dependents=True if targets else None,
                )
                secret = frozenset(k for k, v in up.outputs.items() if v.secret)
                outputs = {k: v.value for k, v in up.outputs.items() if k not in secret}
                if reveal and secret:
                    outputs.update({k: v for k, v in self._plaintext_outputs(handle).items() if k in secret})
                return RunOutcome(
                    StackChange(stack=stack, operation=operation, changes=_changes(up.summary.resource_changes)),
                    outputs,
                    secret,
                )
            if operation in ("preview", "preview-destroy"):
                log = ChangeLog()
                plan = handle.preview if operation == "preview" else handle.preview_destroy
                pre = plan(color="never", parallel=self.parallel, on_event=_tee(log, on_event))
                resources = tuple(
                    StackResource(op=c.op, type=c.type, name=c.name, properties=c.properties) for c in log.changes
                )
                return RunOutcome(
                    StackChange(
                        stack=stack, operation="preview", changes=_changes(pre.change_summary), resources=resources
                    )
                )
            if operation == "refresh":
                ref = handle.refresh(color="never", parallel=self.parallel, on_event=observe, target=targets)
                return RunOutcome(
                    StackChange(stack=stack, operation=operation, changes=_changes(ref.summary.resource_changes))
                )
            if operation == "destroy":
                gone = handle.destroy(color="never", parallel=self.parallel, on_event=observe)
                handle.workspace.remove_stack(stack)
                return RunOutcome(
                    StackChange(stack=stack, operation=operation, changes=_changes(gone.summary.resource_changes))
                )
        except auto.CommandError as err:
            raise map_engine_error(err, stack=stack, operation=operation) from None
        raise EngineError(stack, operation, "unsupported", "unknown stack operation")

    def _plaintext_outputs(self, handle: _Stack) -> dict[str, Any]:
        args = ["stack", "output", "--json", "--show-secrets", "--stack", handle.name]
        result = self.command.run(args, handle.workspace.work_dir, self._env)
        return dict(json.loads(result.stdout))

    def outputs(self, stack: str, program: Callable[[], None]) -> dict[str, Any]:
        """The stack's current outputs, secrets included (to be masked by the caller before storing)."""
        try:
            return self._plaintext_outputs(self.select(stack, program))
        except auto.CommandError as err:
            raise map_engine_error(err, stack=stack, operation="outputs") from None

    def tenant_urn(self, stack: str, slug: str) -> str:
        """The URN of ``slug``'s tenant component in ``stack`` (its resources are the component's children)."""
        return f"urn:pulumi:{stack}::{self.project}::{TENANT_TYPE}::{slug}"

    def tenant_target(self, stack: str, slug: str) -> str:
        """A ``target`` of ``slug``'s tenant component in ``stack`` that holds whether or not the component
        exists: the engine fails an update whose literal target is neither in the checkpoint nor registered
        by the program (a rerun of an offboarding whose resources are already gone), but lets a pattern match
        nothing. The ``*`` after the stack name makes the URN a pattern without widening it (every URN of a
        checkpoint carries the stack's name); a ``*`` on the name would also match other tenants (``t-a``
        and ``t-ab``) and other tenants' children (``t-a-role``)."""
        return f"urn:pulumi:{stack}*::{self.project}::{TENANT_TYPE}::{slug}"

    def tenant_outputs(self, stack: str, slug: str) -> dict[str, Any] | None:
        """The outputs of ``slug``'s tenant component in ``stack``, secret values in plain text (to be masked
        by the caller before anything is stored); ``None`` when the stack holds no such tenant. One CLI
        process (``stack export --show-secrets``)."""
        handle = self.select(stack, _no_program)
        args = ["stack", "export", "--show-secrets", "--stack", stack]
        try:
            result = self.command.run(args, handle.workspace.work_dir, self._env)
        except auto.CommandError as err:
            raise map_engine_error(err, stack=stack, operation="export") from None
        urn = self.tenant_urn(stack, slug)
        resources = (json.loads(result.stdout).get("deployment") or {}).get("resources") or []
        found = next((r for r in resources if r.get("urn") == urn), None)
        return None if found is None else _revealed(found.get("outputs") or {})

    def resources(self, stack: str, program: Callable[[], None]) -> list[dict[str, Any]]:
        """The checkpoint's resources (secret values stay encrypted in the export)."""
        try:
            deployment = self.select(stack, program).export_stack().deployment or {}
        except auto.CommandError as err:
            raise map_engine_error(err, stack=stack, operation="export") from None
        return list(deployment.get("resources") or [])

    # --- crash repair -----------------------------------------------------------------------------------

    def _stack_file(self, stack: str) -> Path:
        return self._backend_dir() / ".pulumi" / "stacks" / self.project / f"{stack}.json"

    def _lock_dir(self, stack: str) -> Path:
        return self._backend_dir() / ".pulumi" / "locks" / "organization" / self.project / stack

    def _backend_dir(self) -> Path:
        url = self.settings.backend_url
        if not url.startswith("file://"):
            raise EngineError(PLATFORM_STACK, "repair", "unsupported", f"lock inspection needs a file backend: {url}")
        return Path(url.removeprefix("file://"))

    def lock_holders(self, stack: str) -> list[dict[str, Any]]:
        """The DIY backend's lock files of ``stack`` (``pid``, ``hostname``, ``timestamp``...)."""
        if not self.settings.backend_url.startswith("file://"):
            return []
        holders = []
        for path in sorted(self._lock_dir(stack).glob("*.json")):
            try:
                holders.append(json.loads(path.read_text()))
            except (OSError, ValueError):
                holders.append({})
        return holders

    def clear_stale_lock(self, stack: str, *, wait_s: float = 30.0) -> bool:
        """Cancel ``stack``'s lock when every holder process is gone (waiting up to ``wait_s`` for a live
        local holder, e.g. the CLI of a killed control plane finishing its shutdown). Returns whether a
        lock was cleared. A live holder on another host is never overridden."""
        deadline = time.monotonic() + wait_s
        while True:
            holders = self.lock_holders(stack)
            if not holders:
                return False
            alive = [h for h in holders if _holder_alive(h)]
            if not alive:
                break
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.5)
        # A cancel that fails is tried once more, unless the lock went meanwhile (its files are all it removes).
        retry = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(2),
            wait=tenacity.wait_fixed(1.0),
            retry=tenacity.retry_if_exception_type(auto.CommandError),
            reraise=True,
        )
        with self._guard:
            try:
                for attempt in retry:
                    with attempt:
                        if self.lock_holders(stack):
                            self.select(stack, _no_program).cancel()
            except auto.CommandError as err:
                raise map_engine_error(err, stack=stack, operation="cancel") from None
        return True

    def unprotect_all(self, stack: str) -> int:
        """Lift ``protect`` from every resource of ``stack`` (as ``pulumi state unprotect --all`` does), so a
        destroy can proceed; ``retain_on_delete`` still keeps the cloud resources. Returns how many."""
        protected: list[str] = []

        def edit(deployment: dict[str, Any]) -> bool:
            resources = list(deployment.get("resources") or [])
            protected.extend(str(r.get("urn", "")) for r in resources if r.get("protect"))
            deployment["resources"] = [{**r, "protect": False} for r in resources]
            return bool(protected)

        self._edit_checkpoint(stack, edit)
        return len(protected)

    def clear_pending(self, stack: str, server: dict[str, Any]) -> list[str]:
        """Drop the checkpoint's pending operations; undo pending creates through their providers first.
        ``server`` replaces the (possibly encrypted) server input. Returns the URNs that were pending."""
        pending: list[dict[str, Any]] = []

        def edit(deployment: dict[str, Any]) -> bool:
            pending.extend(deployment.get("pending_operations") or [])
            for item in pending:
                resource = item.get("resource") or {}
                provider = _PROVIDERS.get(str(resource.get("type", "")).rsplit(":", 1)[-1])
                if item.get("type") == "creating" and provider is not None:
                    inputs = {**(resource.get("inputs") or {}), "server": server}
                    provider().delete(str(resource.get("id") or ""), inputs)
            deployment["pending_operations"] = []
            return bool(pending)

        self._edit_checkpoint(stack, edit)
        return [str((item.get("resource") or {}).get("urn", "")) for item in pending]

    def _edit_checkpoint(self, stack: str, edit: Callable[[dict[str, Any]], bool]) -> None:
        """Export ``stack``'s checkpoint, let ``edit`` change the deployment in place, and import it back when
        ``edit`` says it changed something."""
        handle = self.select(stack, _no_program)
        try:
            state = handle.export_stack()
        except auto.CommandError as err:
            raise map_engine_error(err, stack=stack, operation="export") from None
        deployment = dict(state.deployment or {})
        if not edit(deployment):
            return
        try:
            handle.import_stack(auto.Deployment(version=state.version, deployment=deployment))
        except auto.CommandError as err:
            raise map_engine_error(err, stack=stack, operation="import") from None


class _Stack(auto.Stack):
    """A stack handle that spawns no process of its own.

    ``auto.Stack`` selects the stack on construction and, after ``up``/``refresh``/``destroy``, reads the
    outputs (``stack output`` twice: masked and plain) and the summary (``stack history``): three processes,
    each deriving the passphrase key again. Here the stack is not selected (every command passes
    ``--stack``), and :meth:`outputs`/:meth:`info` answer from the operation's own event stream, which
    :meth:`observer` records: the root stack's outputs (secret values masked) and the summary event's
    change counts. Outside an operation, nothing has been recorded: use :meth:`StackManager.outputs`.
    """

    def __init__(self, name: str, workspace: auto.LocalWorkspace) -> None:
        self.name = name
        self.workspace = workspace
        self._outputs: dict[str, Any] = {}
        self._changes: dict[auto.OpType, int] | None = None
        self._started = datetime.now(UTC)

    def __repr__(self) -> str:
        return f"Stack({self.name!r}, work_dir={self.workspace.work_dir!r})"

    def observer(self, forward: Callable[[auto.EngineEvent], None] | None) -> Callable[[auto.EngineEvent], None]:
        def observe(event: auto.EngineEvent) -> None:
            done = event.res_outputs_event
            if done is not None and done.metadata.type == ROOT_TYPE and done.metadata.new is not None:
                self._outputs = dict(done.metadata.new.outputs or {})
            if event.summary_event is not None:
                self._changes = dict(event.summary_event.resource_changes or {})
            if forward is not None:
                forward(event)

        return observe

    def outputs(self) -> auto.OutputMap:
        return {k: auto.OutputValue(value=v, secret=_holds_secret(v)) for k, v in self._outputs.items()}

    def info(self, show_secrets: bool = True) -> auto.UpdateSummary:
        return auto.UpdateSummary(
            kind="update",
            start_time=self._started,
            message="",
            environment={},
            config={},
            result="succeeded",
            end_time=datetime.now(UTC),
            resource_changes=self._changes,
        )


ROOT_TYPE = "pulumi:pulumi:Stack"
TENANT_TYPE = "paybill:local:Tenant"
SECRET_SIG = "4dabf18193072939515e22adb298388d"  # noqa: S105 - a public marker, not a secret
"""The engine's marker of a secret value (``sig.Secret``); its ciphertext is masked in events."""


def _holds_secret(value: Any) -> bool:
    """Whether a (masked) output value is or contains a secret: one secret member makes the whole output
    secret, so no masked placeholder is ever stored as a public value."""
    if isinstance(value, dict):
        return SECRET_SIG in value or any(_holds_secret(v) for v in value.values())
    if isinstance(value, list):
        return any(_holds_secret(v) for v in value)
    return False


def _revealed(value: Any) -> Any:
    """``value`` from a ``stack export --show-secrets`` with each secret envelope (the marker plus its
    ``plaintext``, a JSON document) replaced by the value it holds."""
    if isinstance(value, dict):
        if SECRET_SIG in value and "plaintext" in value:
            return _revealed(json.loads(value["plaintext"]))
        return {k: _revealed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_revealed(v) for v in value]
    return value


def _tee(
    first: Callable[[auto.EngineEvent], None], second: Callable[[auto.EngineEvent], None] | None
) -> Callable[[auto.EngineEvent], None]:
    """One ``on_event`` that feeds ``first`` and then, when given, ``second``."""

    def both(event: auto.EngineEvent) -> None:
        first(event)
        if second is not None:
            second(event)

    return both


def _no_program() -> None:
    """Selecting a stack only to inspect or repair it never runs its program."""


def _holder_alive(holder: dict[str, Any]) -> bool:
    if holder.get("hostname") not in (None, socket.gethostname()):
        return True
    pid = holder.get("pid")
    return isinstance(pid, int) and pid_alive(pid)


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` runs on this host (a zombie counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return True


def _changes(raw: Any) -> dict[str, int]:
    return {str(k): int(v) for k, v in (raw or {}).items()}
