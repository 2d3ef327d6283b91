"""Running the real Pulumi engine: locating the CLI, its offline-safe environment, error mapping."""

from paybill_infra.engine.binary import PULUMI_VERSION, pulumi_bin_dir
from paybill_infra.engine.errors import map_engine_error
from paybill_infra.engine.fleet_stack import FleetStack, RunSummary, fleet_stack
from paybill_infra.engine.settings import DEV_PASSPHRASE, EngineSettings

__all__ = [
    "DEV_PASSPHRASE",
    "PULUMI_VERSION",
    "EngineSettings",
    "FleetStack",
    "RunSummary",
    "fleet_stack",
    "map_engine_error",
    "pulumi_bin_dir",
]
