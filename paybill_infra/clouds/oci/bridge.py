"""``paybill:oci:BridgeTenant``: a DB system of the tenant's own in the pool's VCN (OCI has no API for databases
inside a DB system, so a bridge tenant on OCI is always on its own server), encrypted with the pool's key."""

from __future__ import annotations

import pulumi

from paybill_infra.clouds.base import (
    admin_password,
    check_tenant,
    data_options,
    server_admin,
    tenant_contract,
)
from paybill_infra.clouds.oci.common import ADMIN_USER, PG_PORT, db_system, endpoint, tenant_access
from paybill_infra.clouds.oci.platform import OciTenantArgs
from paybill_infra.clouds.tagging import with_tags
from paybill_infra.contract import TenantComponent
from paybill_infra.schema.enums import Cloud, Isolation
from paybill_infra.topology.naming import NameKind


class OciBridgeTenant(TenantComponent):
    """Bridge isolation on Oracle Cloud: shares the VCN and subnet, never the database."""

    def __init__(self, name: str, args: OciTenantArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        topo, pool = args.topology, args.pool
        check_tenant(topo, Cloud.OCI, pool.region, Isolation.BRIDGE)
        super().__init__("paybill:oci:BridgeTenant", name, None, with_tags(opts, Cloud.OCI, topo.tags))
        admin = admin_password(self, name)
        system = db_system(
            self,
            name,
            compartment=pool.compartment_id,
            display_name=topo.name(NameKind.SERVER),
            instance_class=topo.sizing.instance_class,
            subnet_id=pool.subnet_id,
            nsg_id=pool.nsg_id,
            key_id=pool.key_id,
            password=admin.result,
            instances=1,
            opts=data_options(self, topo),
        )
        self.server_admin = server_admin(endpoint(system), PG_PORT, ADMIN_USER, admin.result)
        access = tenant_access(
            self,
            name,
            topo,
            tenancy=pool.tenancy_ocid,
            compartment=pool.compartment_id,
            tag_namespace=pool.tag_namespace,
            vault_id=pool.vault_id,
            key_id=pool.key_id,
        )
        self.publish(
            tenant_contract(
                topo,
                db_host=endpoint(system),
                db_port=PG_PORT,
                db_name=topo.name(NameKind.DATABASE),
                db_password=access.password,
                identity=access.group.id,
                network_id=pool.vcn_id,
                key_id=pool.key_id,
            )
        )
