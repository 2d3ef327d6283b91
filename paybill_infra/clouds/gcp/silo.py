"""``paybill:gcp:SiloTenant``: the tenant's own network, KMS key and Cloud SQL instance, and, when the pool
names a folder and a billing account, its own project. Instance and key are protected and retained on delete."""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from paybill_infra.clouds.base import admin_password, check_tenant, data_options, server_admin, tenant_contract
from paybill_infra.clouds.gcp.common import (
    ADMIN_USER,
    PG_PORT,
    cmek_key,
    private_instance,
    private_network,
    tenant_access,
    tenant_database,
)
from paybill_infra.clouds.gcp.platform import GcpTenantArgs
from paybill_infra.clouds.tagging import with_tags
from paybill_infra.contract import TenantComponent
from paybill_infra.schema.enums import Cloud, Isolation
from paybill_infra.topology.naming import NameKind

SILO_APIS = (
    "compute.googleapis.com",
    "sqladmin.googleapis.com",
    "servicenetworking.googleapis.com",
    "cloudkms.googleapis.com",
    "secretmanager.googleapis.com",
)


class GcpSiloTenant(TenantComponent):
    """Silo isolation on Google Cloud. Uses only the pool's project id, region and folder settings (plain
    config): no pool resource is referenced."""

    def __init__(self, name: str, args: GcpTenantArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        topo, pool = args.topology, args.pool
        check_tenant(topo, Cloud.GCP, pool.region, Isolation.SILO)
        super().__init__("paybill:gcp:SiloTenant", name, None, with_tags(opts, Cloud.GCP, topo.tags))
        project: pulumi.Input[str] = pool.project
        apis: list[pulumi.Resource] = []
        if pool.silo_projects.enabled:
            own = gcp.organizations.Project(
                f"{name}-project",
                project_id=topo.name(NameKind.GROUP),
                name=topo.name(NameKind.GROUP),
                folder_id=pool.silo_projects.folder_id,
                billing_account=pool.silo_projects.billing_account,
                auto_create_network=False,
                deletion_policy="PREVENT",
                opts=data_options(self, topo),
            )
            project = own.project_id
            apis = [
                gcp.projects.Service(
                    f"{name}-{api.split('.')[0]}",
                    project=project,
                    service=api,
                    disable_on_destroy=False,
                    opts=pulumi.ResourceOptions(parent=self),
                )
                for api in SILO_APIS
            ]
        network = private_network(self, name, project, pool.region, topo.name(NameKind.NETWORK), args.silo_subnet_cidr)
        key = cmek_key(self, name, project, pool.region, topo.name(NameKind.KEY), data_options(self, topo))
        admin = admin_password(self, name)
        instance = private_instance(
            self,
            name,
            project=project,
            region=pool.region,
            instance_name=topo.name(NameKind.SERVER),
            tier=topo.sizing.instance_class,
            disk_gb=topo.sizing.storage_gb,
            network_id=network.network.id,
            key_id=key.id,
            root_password=admin.result,
            depends_on=[network.connection, *apis],
            opts=data_options(self, topo),
        )
        self.server_admin = server_admin(instance.private_ip_address, PG_PORT, ADMIN_USER, admin.result)
        db_name = tenant_database(self, name, topo, instance=instance.name, project=project)
        access = tenant_access(
            self, name, topo, project=project, region=pool.region, instance=instance.name, key_id=key.id
        )
        self.publish(
            tenant_contract(
                topo,
                db_host=instance.private_ip_address,
                db_port=PG_PORT,
                db_name=db_name,
                db_password=access.password,
                identity=access.account.email,
                network_id=network.network.id,
                key_id=key.id,
            )
        )
