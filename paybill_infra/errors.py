"""The one error tree of ``paybill_infra``.

Every error the SDK raises on purpose derives from :class:`PaybillError`. Each carries the fields a caller
needs to react (which file, which entry, which field, which tenant) and formats them in ``__str__``, so a
log line is useful without a traceback. None of them ever holds a secret value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


class PaybillError(Exception):
    """Base of every error raised by ``paybill_infra``."""


@dataclass(frozen=True)
class FieldProblem:
    """One validation failure: where it is (a dotted path) and what was expected."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


@dataclass
class InvalidInputError(PaybillError):
    """Input failed validation at the edge; nothing was touched.

    ``source`` names where the input came from (a file, a config key, an argument), ``entry`` which item of
    it (``plans[2] 'pro'``), and ``problems`` each failing field with what was expected.
    """

    source: str
    problems: Sequence[FieldProblem]
    entry: str = ""

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.source}: {self.entry}" if self.entry else self.source
        lines = "\n".join(f"  - {p}" for p in self.problems)
        return f"invalid input in {where}:\n{lines}"


class CatalogError(InvalidInputError):
    """The plan catalog (``plans.yaml``) is malformed or inconsistent."""


class FleetConfigError(InvalidInputError):
    """A stack's fleet config (tenants, cloud, region) is malformed or inconsistent."""


@dataclass
class UnknownPlanError(PaybillError):
    """A tenant names a plan the catalog does not have."""

    plan: str
    known: Sequence[str]
    tenant: str = ""

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        who = f"tenant '{self.tenant}': " if self.tenant else ""
        return f"{who}unknown plan '{self.plan}'; expected one of: {', '.join(sorted(self.known))}"


@dataclass
class TopologyError(PaybillError):
    """A (plan, tenant, cloud) combination cannot be resolved to a topology."""

    tenant: str
    reason: str

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"cannot resolve topology for tenant '{self.tenant}': {self.reason}"


@dataclass
class EngineNotFoundError(PaybillError):
    """No usable Pulumi CLI was found."""

    required: str
    searched: Sequence[str] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        where = ", ".join(self.searched) or "PATH"
        return (
            f"no Pulumi CLI >= {self.required} found (looked in {where}). "
            "Run `make engine` (builds it from the Go module proxy; needs Go), "
            "or install Pulumi with its official installer: https://www.pulumi.com/docs/install/"
        )


@dataclass
class EngineError(PaybillError):
    """A Pulumi engine operation failed. ``kind`` is the mapped failure class, ``stack`` the stack."""

    stack: str
    operation: str
    kind: str
    detail: str

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"pulumi {self.operation} on stack '{self.stack}' failed ({self.kind}): {self.detail}"


@dataclass
class DatabaseServerError(PaybillError):
    """The local PostgreSQL server could not be started, reached or stopped."""

    data_dir: str
    reason: str

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"local PostgreSQL at {self.data_dir}: {self.reason}"


@dataclass
class ProvisioningBusyError(PaybillError):
    """A provisioning session gave up waiting (``lock_timeout``/``statement_timeout``) in ``database``.

    Retryable: the lock or the slow statement belongs to another provisioner (tenants cannot take the
    provisioning lock). The message carries ``provisioning busy``, which the control plane's retry policy
    treats as transient.
    """

    database: str
    reason: str

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"provisioning busy (retryable) in database '{self.database}': {self.reason}"


# --- control plane -------------------------------------------------------------------------------------------


class ControlPlaneError(PaybillError):
    """Base of the control plane's refusals and failures (``paybill_infra.controlplane``)."""


@dataclass
class UnknownTenantError(ControlPlaneError):
    """The registry has no such tenant (or it was offboarded)."""

    tenant: str

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"unknown tenant '{self.tenant}'"


@dataclass
class TenantExistsError(ControlPlaneError):
    """Onboarding a tenant that already exists with a different request (same request: the first result)."""

    tenant: str
    state: str
    plan: str

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"tenant '{self.tenant}' already exists ({self.state}, plan '{self.plan}')"


@dataclass
class IllegalTransitionError(ControlPlaneError):
    """The tenant's lifecycle state does not allow ``action`` (e.g. resuming a tenant never suspended)."""

    tenant: str
    action: str
    state: str
    allowed_from: Sequence[str] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        allowed = f"; allowed from: {', '.join(self.allowed_from)}" if self.allowed_from else ""
        return f"cannot {self.action} tenant '{self.tenant}' while it is {self.state}{allowed}"


@dataclass
class BillingGateError(ControlPlaneError):
    """The tenant's subscription does not allow ``action`` (provisioning and upgrades need trialing/active)."""

    tenant: str
    action: str
    status: str

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"cannot {self.action} tenant '{self.tenant}': subscription is {self.status}"


@dataclass
class IllegalSubscriptionTransitionError(ControlPlaneError):
    """A billing event asks for a subscription transition the state machine forbids."""

    tenant: str
    current: str
    requested: str

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"subscription of '{self.tenant}' cannot go from {self.current} to {self.requested}"


@dataclass
class PlanLimitError(ControlPlaneError):
    """The tenant's recorded usage exceeds the limits of the plan it would move to."""

    tenant: str
    plan: str
    problems: Sequence[FieldProblem]

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        lines = "\n".join(f"  - {p}" for p in self.problems)
        return f"tenant '{self.tenant}' does not fit plan '{self.plan}':\n{lines}"


@dataclass
class WebhookSignatureError(ControlPlaneError):
    """A billing webhook failed verification (bad or missing signature, stale timestamp)."""

    reason: str

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"billing webhook rejected: {self.reason}"


@dataclass
class IdempotencyConflictError(ControlPlaneError):
    """An idempotency key was reused for a different request."""

    key: str
    operation_id: str

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"idempotency key '{self.key}' already belongs to another request (operation {self.operation_id})"


@dataclass
class LockTimeoutError(ControlPlaneError):
    """Another operation held ``lock`` (a tenant or a stack) for longer than the caller would wait."""

    lock: str
    holder: str
    waited_s: float

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"'{self.lock}' is held by operation {self.holder}; gave up after {self.waited_s:.0f}s"


@dataclass
class LegacyNamesError(ControlPlaneError):
    """The registry holds in-database names of the old scheme (``t_<slug>_app``, ``pb_pool_<plan>_NNN``).

    Those names can collide across tenants (issue 10), so the control plane refuses to run on them rather
    than mixing two schemes; ``legacy`` lists each offending record as ``what: old -> new``.
    """

    legacy: Sequence[str]

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        shown = "\n".join(f"  - {item}" for item in self.legacy[:20])
        more = f"\n  ... and {len(self.legacy) - 20} more" if len(self.legacy) > 20 else ""
        return (
            f"the registry uses {len(self.legacy)} in-database name(s) of the old naming scheme, which can "
            f"collide across tenants; migrate the fleet first (README: 'In-database names'):\n{shown}{more}"
        )


@dataclass
class MigrationError(ControlPlaneError):
    """A topology migration failed in ``phase``; ``rolled_back`` tells whether the source was kept intact."""

    tenant: str
    source: str
    target: str
    phase: str
    reason: str
    rolled_back: bool

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        outcome = "rolled back to the source, no data lost" if self.rolled_back else "NOT rolled back"
        return (
            f"migration of '{self.tenant}' {self.source} -> {self.target} failed in {self.phase} "
            f"({outcome}): {self.reason}"
        )


@dataclass
class OperationFailedError(ControlPlaneError):
    """A recorded operation ended in failure; ``operation_id`` finds its journal entry and error."""

    operation_id: str
    kind: str
    tenant: str
    reason: str

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"{self.kind} of '{self.tenant}' failed (operation {self.operation_id}): {self.reason}"


@dataclass
class BillingEnforcementError(ControlPlaneError):
    """A billing enforcement run could not bring every due tenant in line. Every due tenant was tried;
    ``failures`` maps each one that failed to why, ``started`` names the operations that did run. The next run
    tries the failed ones again."""

    failures: dict[str, str]
    started: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        listed = "; ".join(f"'{slug}': {reason}" for slug, reason in sorted(self.failures.items()))
        return f"billing enforcement failed for {len(self.failures)} tenant(s) ({len(self.started)} ran): {listed}"


# --- targets ---------------------------------------------------------------------------------------------------


@dataclass
class TargetError(PaybillError):
    """A target (the embedded server or a cloud) is misconfigured or cannot serve the request."""

    target: str
    reason: str

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"target '{self.target}': {self.reason}"


@dataclass
class UnknownTargetError(TargetError):
    """A tenant asked for a cloud the control plane has no target for."""

    configured: Sequence[str] = ()

    def __str__(self) -> str:
        return f"no target '{self.target}' is configured; configured: {', '.join(self.configured) or 'none'}"


@dataclass
class EndpointUnreachableError(TargetError):
    """The database layer cannot reach the server a target's infrastructure exposes (the control plane must
    run inside the private network, or reach it through a tunnel: ``TargetSettings.tunnels``)."""

    host: str = ""
    port: int = 0

    def __str__(self) -> str:
        return f"target '{self.target}': database endpoint {self.host}:{self.port} is unreachable: {self.reason}"


@dataclass
class UnknownRegionError(PaybillError):
    """A component was asked to deploy into a region its cloud does not have (or this SDK does not support)."""

    cloud: str
    region: str
    known: Sequence[str]

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        return (
            f"unknown {self.cloud} region '{self.region}'; expected one of: {', '.join(sorted(self.known))} "
            f"(add one with PAYBILL_EXTRA_REGIONS={self.cloud}:<region>)"
        )


class DataSchemaError(InvalidInputError):
    """The tenant data schema file is malformed or inconsistent; ``problems`` names each failing path."""


class SchemaChangeError(InvalidInputError):
    """A change between two schema versions is refused before anything is applied; ``problems`` names the
    path of each refused change in the new schema file (or of the table/column it removes)."""


class DestructiveChangeError(SchemaChangeError):
    """The change drops, narrows or tightens existing data and was not explicitly allowed
    (``allow_destructive`` / ``--allow-destructive``)."""


class RenameWithoutExpandError(SchemaChangeError):
    """A ``renamed_from`` column appears and its old column disappears in one step: a rename is expand
    (both columns, backfilled) in one version and contract (old column dropped) in a later one."""


class UncastableTypeChangeError(SchemaChangeError):
    """A column's type changes to one PostgreSQL has no cast for."""


class UnsupportedSchemaChangeError(SchemaChangeError):
    """A change this migrator does not generate (primary keys, the tenant column, existing foreign keys)."""


@dataclass
class SchemaMigrationError(ControlPlaneError):
    """Migrating one unit (a pool, a bridge schema, a silo database) failed; its transaction rolled back, so
    the unit is still at ``from_version``."""

    unit: str
    from_version: int
    to_version: int
    reason: str

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        return (
            f"schema migration of {self.unit} from version {self.from_version} to {self.to_version} failed "
            f"(rolled back, still at {self.from_version}): {self.reason}"
        )


# --- rollouts --------------------------------------------------------------------------------------------------


class RolloutSpecError(InvalidInputError):
    """A rollout's waves or error budget are malformed (``source`` names the argument, e.g. ``--waves``)."""


@dataclass
class RolloutBusyError(ControlPlaneError):
    """Another rollout of the same kind is running; rollouts of one kind never overlap."""

    kind: str
    running: str

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"a {self.kind} rollout is already running (rollout {self.running}); resume or wait for it"


@dataclass
class UnknownRolloutError(ControlPlaneError):
    """The registry has no such rollout."""

    rollout: str

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"unknown rollout '{self.rollout}'"
