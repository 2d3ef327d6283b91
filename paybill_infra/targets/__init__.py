"""Targets: where tenants run. The embedded PostgreSQL and five clouds, one contract (:class:`Target`).

A target supplies infrastructure (servers, networks, keys, identities); the control plane applies the one
database layer to whatever server it exposes. See :mod:`paybill_infra.targets.base`.
"""

from paybill_infra.targets.base import Member, Program, SslMode, StackResource, Target, TargetSettings
from paybill_infra.targets.registry import target_for
from paybill_infra.targets.runner import EngineInfraRunner, InfraOutcome, InfraRunner, MockInfraRunner

__all__ = [
    "EngineInfraRunner",
    "InfraOutcome",
    "InfraRunner",
    "Member",
    "MockInfraRunner",
    "Program",
    "SslMode",
    "StackResource",
    "Target",
    "TargetSettings",
    "target_for",
]
