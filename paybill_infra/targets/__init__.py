"""Targets: where tenants run. The embedded PostgreSQL and five clouds, one contract (:class:`Target`).

A target supplies infrastructure (servers, networks, keys, identities); the control plane applies the one
database layer to whatever server it exposes. See :mod:`paybill_infra.targets.base`.

The names below load on first use (PEP 562): a registry read imports :mod:`~paybill_infra.targets.base` for
its models, and must not import the engine's runner (and the Automation API) with it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from paybill_infra._lazy import lazy_exports

if TYPE_CHECKING:
    from paybill_infra.targets.base import Member, Program, SslMode, StackResource, Target, TargetSettings
    from paybill_infra.targets.registry import target_for
    from paybill_infra.targets.runner import EngineInfraRunner, InfraOutcome, InfraRunner, MockInfraRunner

_WHERE = {
    "Member": "base",
    "Program": "base",
    "SslMode": "base",
    "StackResource": "base",
    "Target": "base",
    "TargetSettings": "base",
    "target_for": "registry",
    "EngineInfraRunner": "runner",
    "InfraOutcome": "runner",
    "InfraRunner": "runner",
    "MockInfraRunner": "runner",
}


__getattr__ = lazy_exports(__name__, _WHERE, globals())


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
