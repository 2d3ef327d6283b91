"""``paybill:oci:SiloTenant``: a compartment of the tenant's own, with a quota, its own VCN, vault key and DB
system. Compartment, key and DB system are protected and retained on delete."""

from __future__ import annotations

import pulumi
import pulumi_oci as oci

from paybill_infra.clouds.base import (
    admin_password,
    check_tenant,
    data_options,
    server_admin,
    tenant_contract,
)
from paybill_infra.clouds.oci.common import (
    ADMIN_USER,
    PG_PORT,
    db_system,
    endpoint,
    private_network,
    tenant_access,
    vault_key,
)
from paybill_infra.clouds.oci.platform import OciTenantArgs
from paybill_infra.clouds.tagging import with_tags
from paybill_infra.contract import TenantComponent
from paybill_infra.schema.enums import Cloud, Isolation
from paybill_infra.topology.naming import NameKind


class OciSiloTenant(TenantComponent):
    """Silo isolation on Oracle Cloud. Uses only the pool's tenancy, parent compartment and tag namespace name:
    no pool network, vault or database is referenced."""

    def __init__(self, name: str, args: OciTenantArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        topo, pool = args.topology, args.pool
        check_tenant(topo, Cloud.OCI, pool.region, Isolation.SILO)
        super().__init__("paybill:oci:SiloTenant", name, None, with_tags(opts, Cloud.OCI, topo.tags))
        group = topo.name(NameKind.GROUP)
        compartment = oci.identity.Compartment(
            f"{name}-compartment",
            compartment_id=pool.parent_compartment_id,
            name=group,
            description=f"Paybill silo tenant {topo.tenant}",
            enable_delete=False,
            opts=data_options(self, topo),
        )
        oci.limits.Quota(
            f"{name}-quota",
            compartment_id=pool.tenancy_ocid,
            name=f"{group}-quota",
            description=f"Paybill silo tenant {topo.tenant}: managed PostgreSQL only",
            statements=[
                f"zero compute-core quotas in compartment {group}",
                f"zero compute-memory quotas in compartment {group}",
            ],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[compartment]),
        )
        network = private_network(self, name, compartment.id, topo.name(NameKind.NETWORK), args.silo_vcn_cidr)
        vault, key = vault_key(self, name, compartment.id, topo.name(NameKind.KEY), data_options(self, topo))
        admin = admin_password(self, name)
        system = db_system(
            self,
            name,
            compartment=compartment.id,
            display_name=topo.name(NameKind.SERVER),
            instance_class=topo.sizing.instance_class,
            subnet_id=network.subnet.id,
            nsg_id=network.nsg.id,
            key_id=key.id,
            password=admin.result,
            instances=args.silo_instances,
            opts=data_options(self, topo),
        )
        self.server_admin = server_admin(endpoint(system), PG_PORT, ADMIN_USER, admin.result)
        access = tenant_access(
            self,
            name,
            topo,
            tenancy=pool.tenancy_ocid,
            compartment=compartment.id,
            tag_namespace=pool.tag_namespace,
            vault_id=vault.id,
            key_id=key.id,
        )
        self.publish(
            tenant_contract(
                topo,
                db_host=endpoint(system),
                db_port=PG_PORT,
                db_name=topo.name(NameKind.DATABASE),
                db_password=access.password,
                identity=access.group.id,
                network_id=network.vcn.id,
                key_id=key.id,
            )
        )
