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
