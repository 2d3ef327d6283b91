"""Errors raised while composing cloud components: all derive from :class:`PaybillError`.

They live beside the cloud components (not in :mod:`paybill_infra.errors`) because only code that composes
cloud infrastructure can raise them. Each carries the fields a caller reacts to and formats them in
``__str__``; none holds a secret.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from paybill_infra.errors import PaybillError


@dataclass
class CloudSdkMissingError(PaybillError, ImportError):
    """The Pulumi SDK of a cloud is not installed; ``extra`` is the pip extra that installs it."""

    cloud: str
    module: str
    extra: str

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        return (
            f"the {self.cloud} components need the Python package '{self.module}', which is not installed; "
            f"run: pip install 'paybill-infra[{self.extra}]'"
        )


@dataclass
class IsolationNotOfferedError(PaybillError):
    """A tenant's plan needs an isolation model the chosen cloud component does not offer."""

    cloud: str
    isolation: str
    offered: Sequence[str]
    tenant: str = ""

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        who = f"tenant '{self.tenant}': " if self.tenant else ""
        return f"{who}{self.cloud} does not offer {self.isolation} isolation here; offered: {', '.join(self.offered)}"


@dataclass
class ConflictingOptionsError(PaybillError):
    """Two or more options of one component contradict each other, or weaken a security default."""

    component: str
    options: Sequence[str]
    reason: str

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"{self.component}: conflicting options {', '.join(self.options)}: {self.reason}"


@dataclass
class TopologyMismatchError(PaybillError):
    """A topology resolved for one cloud or region was handed to another cloud's component or pool."""

    tenant: str
    expected: str
    actual: str

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"tenant '{self.tenant}': topology is for {self.actual}, but the component deploys to {self.expected}"


@dataclass
class InvalidOptionError(PaybillError):
    """One option of a component's ``*Args`` has a value it cannot take (raised when the args are built)."""

    component: str
    option: str
    expected: str
    got: object

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"{self.component}: option {self.option}: expected {self.expected}, got {self.got!r}"
