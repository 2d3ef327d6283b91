"""The 15 cloud-by-isolation combinations, asserted on what was registered with the (mock) engine."""

from __future__ import annotations

from typing import Any

from harness import Registered
from scenarios import Run

from paybill_infra.clouds.tagging import TAGGABLE, render_tags
from paybill_infra.contract import TENANT_OUTPUTS
from paybill_infra.schema import Cloud, Isolation

REQUIRED_TAGS = ("paybill:tenant", "paybill:plan", "paybill:isolation", "managed-by")
SERVERS = {
    Cloud.AWS: {"aws:rds/cluster:Cluster", "aws:rds/instance:Instance"},
    Cloud.AZURE: {"azure-native:dbforpostgresql:Server"},
    Cloud.GCP: {"gcp:sql/databaseInstance:DatabaseInstance"},
    Cloud.OCI: {"oci:Psql/dbSystem:DbSystem"},
    Cloud.IBM: {"ibm:index/database:Database"},
}
DATABASES = {Cloud.AZURE: "azure-native:dbforpostgresql:Database", Cloud.GCP: "gcp:sql/database:Database"}
KEYS = {
    Cloud.AWS: "aws:kms/key:Key",
    Cloud.AZURE: "azure-native:keyvault:Key",
    Cloud.GCP: "gcp:kms/cryptoKey:CryptoKey",
    Cloud.OCI: "oci:Kms/key:Key",
    Cloud.IBM: "ibm:index/kmsKey:KmsKey",
}
NETWORKS = {
    Cloud.AWS: "aws:ec2/vpc:Vpc",
    Cloud.AZURE: "azure-native:network:VirtualNetwork",
    Cloud.GCP: "gcp:compute/network:Network",
    Cloud.OCI: "oci:Core/vcn:Vcn",
    Cloud.IBM: "ibm:index/isVpc:IsVpc",
}
IDENTITIES = {
    Cloud.AWS: "aws:iam/role:Role",
    Cloud.AZURE: "azure-native:managedidentity:UserAssignedIdentity",
    Cloud.GCP: "gcp:serviceaccount/account:Account",
    Cloud.OCI: "oci:Identity/dynamicGroup:DynamicGroup",
    Cloud.IBM: "ibm:index/iamAccessGroup:IamAccessGroup",
}
UNTAGGABLE = {
    "random:index/randomPassword:RandomPassword",
    "aws:kms/alias:Alias",
    "aws:iam/rolePolicy:RolePolicy",
    "aws:secretsmanager/secretVersion:SecretVersion",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
    "aws:s3/bucketVersioning:BucketVersioning",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketPolicy:BucketPolicy",
    "azure-native:authorization:RoleAssignment",
    "azure-native:dbforpostgresql:Configuration",
    "azure-native:dbforpostgresql:Database",
    "gcp:compute/network:Network",
    "gcp:compute/subnetwork:Subnetwork",
    "gcp:servicenetworking/connection:Connection",
    "gcp:kms/keyRing:KeyRing",
    "gcp:projects/serviceIdentity:ServiceIdentity",
    "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember",
    "gcp:sql/database:Database",
    "gcp:sql/user:User",
    "gcp:serviceaccount/account:Account",
    "gcp:secretmanager/secretVersion:SecretVersion",
    "gcp:secretmanager/secretIamMember:SecretIamMember",
    "gcp:projects/iAMMember:IAMMember",
    "oci:Core/networkSecurityGroupSecurityRule:NetworkSecurityGroupSecurityRule",
    "oci:Identity/tag:Tag",
    "ibm:index/isSecurityGroupRule:IsSecurityGroupRule",
    "ibm:index/kmsKey:KmsKey",
    "ibm:index/iamAuthorizationPolicy:IamAuthorizationPolicy",
    "ibm:index/iamAccessGroupPolicy:IamAccessGroupPolicy",
}
"""Types whose cloud API has no tags (the test fails on any registered type that is in neither list)."""


def tenant_type(cloud: Cloud, isolation: Isolation) -> str:
    return f"paybill:{cloud}:{isolation.value.capitalize()}Tenant"


def tenant_resources(run: Run, cloud: Cloud, isolation: Isolation) -> list[Registered]:
    return [r for r in run.under(tenant_type(cloud, isolation)) if r.custom]


def pool_resources(run: Run, cloud: Cloud) -> list[Registered]:
    return [r for r in run.under(f"paybill:{cloud}:Platform") if r.custom]


def dig(props: dict[str, Any], *path: str) -> Any:
    value: Any = props
    for key in path:
        value = (value or {}).get(key)
    return value


def test_resource_types(combo: tuple[Cloud, Isolation, Run]) -> None:
    cloud, isolation, run = combo
    assert {f"paybill:{cloud}:Tenant", tenant_type(cloud, isolation), f"paybill:{cloud}:Platform"} <= run.types()
    mine = {r.type for r in tenant_resources(run, cloud, isolation)}
    assert IDENTITIES[cloud] in mine
    if isolation is Isolation.SILO:
        assert {NETWORKS[cloud], KEYS[cloud]} <= mine
        assert mine & SERVERS[cloud]
    elif isolation is Isolation.POOLED:
        assert not mine & SERVERS[cloud], "a pooled tenant creates no database server"
        assert NETWORKS[cloud] not in mine


def test_encryption_with_customer_managed_keys(combo: tuple[Cloud, Isolation, Run]) -> None:
    cloud, _, run = combo
    servers = run.of_type(*SERVERS[cloud])
    assert servers
    for server in servers:
        props = server.inputs
        if cloud is Cloud.AWS:
            assert props["storageEncrypted"] is True and props["kmsKeyId"].startswith("arn:aws")
        elif cloud is Cloud.AZURE:
            assert props["dataEncryption"]["type"] == "AzureKeyVault" and props["dataEncryption"]["primaryKeyURI"]
        elif cloud is Cloud.GCP:
            assert props["encryptionKeyName"]
        elif cloud is Cloud.OCI:
            assert props["storageDetails"]["kmsKeyId"]
        else:
            assert props["keyProtectKey"] and props["backupEncryptionKeyCrn"]
    if cloud is Cloud.AWS:
        assert all(s.inputs["kmsKeyId"] for s in run.of_type("aws:secretsmanager/secret:Secret"))
        for instance in run.of_type("aws:rds/instance:Instance"):  # dedicated instances are audited alike
            assert instance.inputs["enabledCloudwatchLogsExports"] == ["postgresql"], instance.urn
        for config in run.of_type(
            "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
        ):
            assert config.inputs["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "aws:kms"
    if cloud is Cloud.GCP:
        for secret in run.of_type("gcp:secretmanager/secret:Secret"):
            replica = secret.inputs["replication"]["userManaged"]["replicas"][0]
            assert replica["customerManagedEncryption"]["kmsKeyName"]


def test_no_public_endpoint_and_tls_required(combo: tuple[Cloud, Isolation, Run]) -> None:
    cloud, _, run = combo
    if cloud is Cloud.AWS:
        for instance in run.of_type("aws:rds/instance:Instance", "aws:rds/clusterInstance:ClusterInstance"):
            assert instance.inputs["publiclyAccessible"] is False
        groups = run.of_type(
            "aws:rds/parameterGroup:ParameterGroup", "aws:rds/clusterParameterGroup:ClusterParameterGroup"
        )
        assert groups
        assert all(
            any(p["name"] == "rds.force_ssl" and p["value"] == "1" for p in g.inputs["parameters"]) for g in groups
        )
        for sg in run.of_type("aws:ec2/securityGroup:SecurityGroup"):
            assert all("0.0.0.0/0" not in rule["cidrBlocks"] for rule in sg.inputs["ingress"])
        for block in run.of_type("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"):
            assert all(
                block.inputs[k]
                for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
            )
    elif cloud is Cloud.AZURE:
        for server in run.of_type("azure-native:dbforpostgresql:Server"):
            assert server.inputs["network"]["publicNetworkAccess"] == "Disabled"
            assert server.inputs["network"]["delegatedSubnetResourceId"]
        settings = {
            (c.inputs["configurationName"], c.inputs["value"])
            for c in run.of_type("azure-native:dbforpostgresql:Configuration")
        }
        assert ("require_secure_transport", "ON") in settings
        for vault in run.of_type("azure-native:keyvault:Vault"):
            assert vault.inputs["properties"]["publicNetworkAccess"] == "Disabled"
            assert vault.inputs["properties"]["enablePurgeProtection"] is True
    elif cloud is Cloud.GCP:
        for instance in run.of_type("gcp:sql/databaseInstance:DatabaseInstance"):
            ip = instance.inputs["settings"]["ipConfiguration"]
            assert ip["ipv4Enabled"] is False and ip["sslMode"] == "ENCRYPTED_ONLY" and ip["privateNetwork"]
    elif cloud is Cloud.OCI:
        for subnet in run.of_type("oci:Core/subnet:Subnet"):
            assert subnet.inputs["prohibitPublicIpOnVnic"] is True and subnet.inputs["prohibitInternetIngress"] is True
    else:
        for database in run.of_type("ibm:index/database:Database"):
            assert database.inputs["serviceEndpoints"] == "private"


def test_silo_data_is_protected(combo: tuple[Cloud, Isolation, Run]) -> None:
    cloud, isolation, run = combo
    data = [r for r in tenant_resources(run, cloud, isolation) if r.type in SERVERS[cloud] | {KEYS[cloud]}]
    if isolation is Isolation.SILO:
        assert data
        assert all(r.protect and r.retain_on_delete for r in data), [r.name for r in data]
        for server in data:
            if cloud is Cloud.AWS and server.type in SERVERS[cloud]:
                assert server.inputs["deletionProtection"] is True
            if cloud is Cloud.GCP and server.type in SERVERS[cloud]:
                assert server.inputs["deletionProtection"] is True
                assert server.inputs["settings"]["deletionProtectionEnabled"] is True
    else:
        assert not any(r.protect for r in data), "only silo data is protected per tenant"


def test_every_taggable_resource_is_tagged(combo: tuple[Cloud, Isolation, Run]) -> None:
    cloud, _, run = combo
    taggable = TAGGABLE[cloud]
    for resource in (r for r in run.resources if r.custom):
        assert resource.type in taggable or resource.type in UNTAGGABLE, f"unclassified type {resource.type}"
        if resource.type not in taggable:
            continue
        tags = dig(resource.inputs, *(_camel(p) for p in taggable[resource.type]))
        owner = "shared" if resource.parent_types[-1] == f"paybill:{cloud}:Platform" else "acme"
        expected = render_tags(cloud, {"paybill:tenant": owner, "managed-by": "paybill-infra"})
        if isinstance(expected, dict):
            assert expected.items() <= tags.items(), (resource.type, tags)
            assert len([k for k in tags if "isolation" in k or "plan" in k]) >= 2
        else:
            assert set(expected) <= set(tags), (resource.type, tags)
            assert any("isolation" in t for t in tags) and any("plan" in t for t in tags)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def test_isolation_invariants(combo: tuple[Cloud, Isolation, Run]) -> None:
    cloud, isolation, run = combo
    pool_urns = {r.urn for r in run.under(f"paybill:{cloud}:Platform")} | {
        r.urn for r in run.resources if r.type == f"paybill:{cloud}:Platform"
    }
    mine = tenant_resources(run, cloud, isolation)
    depends_on_pool = {r.type for r in mine if set(r.dependencies) & pool_urns}
    pool_network = next(r for r in pool_resources(run, cloud) if r.type == NETWORKS[cloud])
    if isolation is Isolation.SILO:
        assert not depends_on_pool, f"silo resources reference the pool: {depends_on_pool}"
        assert run.outputs["network_id"] != f"{pool_network.name}-id"
    else:
        assert depends_on_pool
        assert run.outputs["network_id"] == f"{pool_network.name}-id", "pooled and bridge share the pool network"
    if isolation is Isolation.BRIDGE:
        own = {r.type for r in mine} & (SERVERS[cloud] | {DATABASES.get(cloud, "")})
        assert own or run.outputs["db_name"] != "paybill", "bridge has its own database"
        assert run.outputs["db_name"] == "d_acme"


def test_output_contract(combo: tuple[Cloud, Isolation, Run]) -> None:
    _, isolation, run = combo
    assert set(TENANT_OUTPUTS) <= run.outputs.keys()
    assert all(run.outputs[name] not in (None, "") for name in TENANT_OUTPUTS), run.outputs
    assert run.outputs["tenant_id"] == "acme"
    assert run.outputs["isolation"] == isolation.value
    assert run.outputs["plan"] == "pro"
    assert run.outputs["db_port"] == 5432
    assert run.outputs["db_user"] == "r_acme"
    assert run.secret["db_password"] is True
    assert not run.secret["tenant_id"]
    assert set(REQUIRED_TAGS) <= run.outputs["tags"].keys()
