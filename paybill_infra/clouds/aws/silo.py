"""``paybill:aws:SiloTenant``: a tenant with nothing shared: its own VPC, database instance, KMS key, role and
bucket. Its data (instance, bucket, key) is deletion-protected, ``protect``-ed and retained on delete."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from paybill_infra.clouds.aws.common import instance_admin, kms_key, private_network, tenant_access, tenant_instance
from paybill_infra.clouds.aws.platform import AwsTenantArgs
from paybill_infra.clouds.base import check_tenant, data_options, tenant_contract
from paybill_infra.clouds.tagging import with_tags
from paybill_infra.contract import TenantComponent
from paybill_infra.schema.enums import Cloud, Isolation
from paybill_infra.topology.naming import NameKind

BACKUP_DAYS = 35


class AwsSiloTenant(TenantComponent):
    """Silo isolation on AWS. Takes nothing from the pool but its region and zones: no pool resource is
    referenced, so the tenant can be moved to its own account or deleted without touching anyone else."""

    bucket: pulumi.Output[str]

    def __init__(self, name: str, args: AwsTenantArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        topo, pool = args.topology, args.pool
        check_tenant(topo, Cloud.AWS, pool.region, Isolation.SILO)
        super().__init__("paybill:aws:SiloTenant", name, None, with_tags(opts, Cloud.AWS, topo.tags))
        child = pulumi.ResourceOptions(parent=self)
        key = kms_key(
            self, name, topo.name(NameKind.KEY), f"Paybill silo tenant {topo.tenant}", opts=data_options(self, topo)
        )
        network = private_network(self, name, topo.name(NameKind.GROUP), args.silo_vpc_cidr, pool.zones)
        instance = tenant_instance(
            self,
            name,
            topo,
            key_arn=key.arn,
            subnet_group=network.db_subnet_group.name,
            security_group_id=network.db_security_group.id,
            backup_days=BACKUP_DAYS,
        )
        self.server_admin = instance_admin(instance)
        bucket = self._bucket(name, topo.name(NameKind.BUCKET), key, data_options(self, topo))
        access = tenant_access(
            self,
            name,
            topo,
            pool.region,
            key.arn,
            instance.resource_id,
            instance.address,
            instance.port,
            topo.name(NameKind.DATABASE),
        )
        aws.iam.RolePolicy(
            f"{name}-bucket-access",
            role=access.role.id,
            policy=pulumi.Output.all(bucket.arn, key.arn).apply(
                lambda v: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                                "Resource": f"{v[0]}/*",
                            },
                            {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": v[0]},
                            {"Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": v[1]},
                        ],
                    }
                )
            ),
            opts=child,
        )
        self.publish(
            tenant_contract(
                topo,
                db_host=instance.address,
                db_port=instance.port,
                db_name=topo.name(NameKind.DATABASE),
                db_password=access.password,
                identity=access.role.arn,
                network_id=network.vpc.id,
                key_id=key.arn,
            ),
            bucket=bucket.bucket,
        )

    def _bucket(self, name: str, bucket_name: str, key: aws.kms.Key, opts: pulumi.ResourceOptions) -> aws.s3.Bucket:
        """A private, versioned bucket encrypted with the tenant's key that refuses plain-HTTP requests."""
        child = pulumi.ResourceOptions(parent=self)
        bucket = aws.s3.Bucket(f"{name}-bucket", bucket=bucket_name, force_destroy=False, opts=opts)
        aws.s3.BucketPublicAccessBlock(
            f"{name}-bucket",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        aws.s3.BucketOwnershipControls(
            f"{name}-bucket",
            bucket=bucket.id,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=child,
        )
        aws.s3.BucketVersioning(
            f"{name}-bucket",
            bucket=bucket.id,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
            opts=child,
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-bucket",
            bucket=bucket.id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                        sse_algorithm="aws:kms", kms_master_key_id=key.arn
                    ),
                    bucket_key_enabled=True,
                )
            ],
            opts=child,
        )
        aws.s3.BucketPolicy(
            f"{name}-bucket-tls-only",
            bucket=bucket.id,
            policy=bucket.arn.apply(
                lambda arn: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Sid": "DenyInsecureTransport",
                                "Effect": "Deny",
                                "Principal": "*",
                                "Action": "s3:*",
                                "Resource": [arn, f"{arn}/*"],
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        ],
                    }
                )
            ),
            opts=child,
        )
        return bucket
