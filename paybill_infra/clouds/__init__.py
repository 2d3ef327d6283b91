"""Cloud ComponentResources: per cloud, a shared pool (``<cloud>/platform.py``) and silo, pooled and bridge
tenants (``<cloud>/silo.py``, ``pooled.py``, ``bridge.py``), dispatched by ``<cloud>/tenant.py``.

Importing this package imports no cloud SDK; ``paybill_infra.clouds.aws`` (or :func:`components_for`) does.
"""

from paybill_infra.clouds.errors import (
    CloudSdkMissingError,
    ConflictingOptionsError,
    IsolationNotOfferedError,
    TopologyMismatchError,
)
from paybill_infra.clouds.registry import CLOUDS, CloudComponents, components_for
from paybill_infra.errors import UnknownRegionError

__all__ = [
    "CLOUDS",
    "CloudComponents",
    "CloudSdkMissingError",
    "ConflictingOptionsError",
    "IsolationNotOfferedError",
    "TopologyMismatchError",
    "UnknownRegionError",
    "components_for",
]
