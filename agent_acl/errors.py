"""The one error tree of ``agent_acl``.

Every error raised on purpose derives from :class:`AclError`. Each carries the fields a caller needs to react
(which path of the document, which agent, tenant, workflow and step, which reason) and formats them in
``__str__``. None of them ever holds a parameter value, a password or a row: only names, reasons and digests.

Two families matter to callers:

* :class:`PolicyError` and its subclasses: the declaration (schema, workflows, agents) is invalid or cannot
  be compiled. Raised before anything touches a database.
* :class:`AccessDenied` and its subclasses: a request was refused at run time. Each names the reason; the
  transaction (if one was opened) has been rolled back and an audit record with decision ``denied`` written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


class AclError(Exception):
    """Base of every error raised by ``agent_acl``."""


@dataclass(frozen=True)
class Problem:
    """One validation failure: where it is (a dotted path such as ``tables[1].columns[0].name``) and why."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


@dataclass
class PolicyError(AclError):
    """The schema/policy document is invalid; ``problems`` names each failing path."""

    source: str
    problems: Sequence[Problem]

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        lines = "\n".join(f"  - {p}" for p in self.problems)
        return f"invalid agent ACL policy in {self.source}:\n{lines}"


class SchemaError(PolicyError):
    """The data schema part of the document (tables, columns, keys) is invalid."""


@dataclass
class CompileError(AclError):
    """The compiler met something it cannot translate safely; it refuses instead of guessing."""

    subject: str
    reason: str

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"cannot compile {self.subject}: {self.reason}"


@dataclass(frozen=True)
class ClosureViolation:
    """One statement that does not carry the tenant predicate on one tenant-scoped table occurrence."""

    subject: str
    table: str
    reason: str

    def __str__(self) -> str:
        return f"{self.subject}: table {self.table}: {self.reason}"


@dataclass
class TenantClosureError(AclError):
    """The tenant-closure check failed: some compiled statement could reach another tenant's rows."""

    violations: Sequence[ClosureViolation]

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        lines = "\n".join(f"  - {v}" for v in self.violations)
        return f"tenant-closure check failed ({len(self.violations)} violation(s)):\n{lines}"


@dataclass
class AccessDenied(AclError):  # noqa: N818 - the conventional name; subclasses read naturally
    """A run-time request was refused. ``reason`` is a short machine-friendly code, ``detail`` prose."""

    agent: str
    tenant: str
    workflow: str
    step: str
    reason: str = "denied"
    detail: str = ""

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"agent '{self.agent}' tenant '{self.tenant}' step '{self.workflow}.{self.step}'"
        return f"{where} denied ({self.reason}): {self.detail}" if self.detail else f"{where} denied ({self.reason})"


class UnknownActionError(AccessDenied):
    """The agent is not allowed this workflow, or the workflow/step does not exist."""


class StepOrderError(AccessDenied):
    """The step is not the next one of its workflow run."""


class ParameterError(AccessDenied):
    """The parameters failed validation (missing, extra, wrong type, too long). Values are never echoed."""


@dataclass
class ApprovalRequired(AccessDenied):
    """The action needs a human approval token; ``request`` is what to show the approver."""

    request: ApprovalRequest | None = None


class InvalidApproval(AccessDenied):
    """An approval token was given but is forged, expired, already used, or bound to another action."""


class BudgetExceeded(AccessDenied):
    """A row, call-rate, time or cost budget of the agent or step is exhausted."""


class RowLimitExceeded(BudgetExceeded):
    """The step would return or touch more rows than its ``row_limit``; nothing was kept."""


class StepTimeout(BudgetExceeded):
    """PostgreSQL cancelled the statement at the role's ``statement_timeout``; the step was rolled back."""


class DatabaseRefused(AccessDenied):
    """PostgreSQL itself refused (privilege, RLS check): the two enforcers disagree, which is worth an alert."""


@dataclass
class StepFailed(AccessDenied):
    """The statement failed for another reason (constraint, lock, connection); the step was rolled back.

    ``sqlstate`` is the PostgreSQL error code; the server's message is not kept since it may quote values.
    """

    sqlstate: str = ""


@dataclass(frozen=True)
class ApprovalRequest:
    """What a human approves: the action and a digest of its parameters (never the values themselves)."""

    agent: str
    tenant: str
    workflow: str
    step: str
    params_digest: str
    sql_hash: str
    reasons: tuple[str, ...] = field(default_factory=tuple)


@dataclass
class PlacementError(AclError):
    """The session's connection does not point where the tenant's data lives (wrong database or schema)."""

    tenant: str
    reason: str

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"tenant '{self.tenant}': {self.reason}"


@dataclass
class ConfigError(AclError):
    """A component was set up wrongly by the calling code (e.g. an approval key that is too short)."""

    component: str
    reason: str

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"{self.component}: {self.reason}"
