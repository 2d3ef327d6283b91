"""Entry point of the root Pulumi project (Pulumi.yaml): the tenant-fleet program."""

from paybill_infra.program import fleet_program

fleet_program()
