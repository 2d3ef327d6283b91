"""Plan → topology resolution and naming. Pure: importing this package never imports Pulumi."""

from paybill_infra.topology.model import Sizing, Topology
from paybill_infra.topology.naming import NameKind, NameRule, make_name, names_for
from paybill_infra.topology.resolve import INSTANCE_CLASSES, MANAGED_BY, CloudDefaults, resolve_topology

__all__ = [
    "INSTANCE_CLASSES",
    "MANAGED_BY",
    "CloudDefaults",
    "NameKind",
    "NameRule",
    "Sizing",
    "Topology",
    "make_name",
    "names_for",
    "resolve_topology",
]
