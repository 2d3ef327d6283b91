"""The tenant-fleet Pulumi program: the root ``Pulumi.yaml`` project runs it, and so does the Automation
API (as an inline program), so ``pulumi up`` and the SDK provision exactly the same resources.

Stack config (``stacks/Pulumi.<stack>.yaml``):

``paybill:catalog``  path of the plan catalog, relative to the project root (default ``plans.yaml``)
``paybill:cloud`` / ``paybill:region`` / ``paybill:regions``  fleet settings (default: local)
``paybill:tenants``  the tenants, as a list of ``{slug, name, plan, region?, tags?}``
``paybill:postgresUrl``  (secret, optional) an external PostgreSQL instead of the embedded server;
    the environment variable ``PAYBILL_PG_URL`` does the same
``paybill:dataDir``  where the embedded server keeps its data (default ``.paybill/postgres``)
``paybill:aclPolicy``  (optional) an ``agent_acl`` policy file: every tenant also gets its agent roles,
    grants and policies
``paybill:dataSchema``  (optional) the tenant data schema file, relative to the project root: the tables
    every tenant gets (default: the shipped schema, :data:`paybill_infra.datamodel.source.DEFAULT_SCHEMA_FILE`)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pulumi

from agent_acl import AclError, AclPolicy, load_policy
from paybill_infra.catalog import load_catalog
from paybill_infra.datamodel.source import DataModel, load_schema_file
from paybill_infra.errors import DataSchemaError, FieldProblem, FleetConfigError, PaybillError
from paybill_infra.fleet import parse_settings, parse_tenants, resolve_fleet
from paybill_infra.local.components import LocalPlatform, LocalPlatformArgs, LocalTenant, LocalTenantArgs
from paybill_infra.schema.enums import Cloud
from paybill_infra.topology.model import Topology

PG_URL_ENV = "PAYBILL_PG_URL"


def fleet_topologies(config: Mapping[str, Any], root: Path, stack: str) -> tuple[Topology, ...]:
    """Validate the whole fleet from a stack's ``paybill:*`` config values (already decoded: objects as
    lists/dicts) before any resource is declared. Raises :class:`FleetConfigError` or :class:`CatalogError`."""
    source = config_source(stack)
    catalog = load_catalog(root / str(config.get("catalog") or "plans.yaml"))
    settings = parse_settings(
        {k: config[k] for k in ("cloud", "region", "regions") if config.get(k) is not None}, source
    )
    if settings.cloud is not Cloud.LOCAL:
        raise FleetConfigError(
            source,
            [
                FieldProblem(
                    "cloud",
                    f"the fleet program runs the local target; '{settings.cloud}' stacks "
                    "compose paybill_infra.clouds components (see examples/)",
                )
            ],
        )
    if config.get("aclPolicy"):
        load_acl_policy(root / str(config["aclPolicy"]), source)
    if config.get("dataSchema"):
        data_model(root, str(config["dataSchema"]), source)
    return resolve_fleet(parse_tenants(config.get("tenants") or [], source), catalog, settings, source)


def config_source(stack: str) -> str:
    """How errors name a stack's config: the file a user edits (``stackConfigDir: stacks``)."""
    return f"stacks/Pulumi.{stack}.yaml"


def load_acl_policy(path: Path, source: str) -> AclPolicy:
    """Load the agent ACL policy; its typed errors become a :class:`FleetConfigError` naming the file."""
    try:
        return load_policy(path)
    except AclError as err:
        raise FleetConfigError(source, [FieldProblem("aclPolicy", f"{path}: {err}")]) from None


def data_model(root: Path, path: str | None, source: str) -> DataModel | None:
    """The stack's ``paybill:dataSchema`` file as the resources' input (version 1: a stack applies its file as
    is; versioned migrations belong to the control plane). ``None``: the shipped default schema."""
    if not path:
        return None
    try:
        return DataModel(1, load_schema_file(root / path).document())
    except DataSchemaError as err:
        raise FleetConfigError(source, [FieldProblem("dataSchema", str(err))]) from None


def _program_config(config: pulumi.Config) -> dict[str, Any]:
    return {
        "catalog": config.get("catalog"),
        "cloud": config.get("cloud"),
        "region": config.get("region"),
        "regions": config.get_object("regions"),
        "tenants": config.get_object("tenants"),
        "aclPolicy": config.get("aclPolicy"),
        "dataSchema": config.get("dataSchema"),
    }


def fleet_program(root: Path | None = None) -> None:
    """Declare the platform and one ``LocalTenant`` per configured tenant; export their contracts.

    ``root`` is the project root (where ``plans.yaml`` and ``.paybill/`` live): the working directory
    under ``pulumi up``, passed explicitly by inline Automation API runs. A config mistake ends the run
    with the error's own message (file, entry, field) and no traceback; a run on the public development
    passphrase is warned about in the engine's output.
    """
    from paybill_infra.engine.settings import DEV_PASSPHRASE  # the engine package imports this module

    if os.environ.get("PULUMI_CONFIG_PASSPHRASE") == DEV_PASSPHRASE:
        pulumi.log.warn(
            f"this stack's secrets are encrypted with the public development passphrase {DEV_PASSPHRASE!r}: "
            "set PULUMI_CONFIG_PASSPHRASE (or a KMS secrets provider) before storing anything real"
        )
    try:
        _declare(root or Path(os.getcwd()))
    except PaybillError as err:
        raise pulumi.RunError(str(err)) from None


def _declare(root: Path) -> None:
    config = pulumi.Config("paybill")
    topologies = fleet_topologies(_program_config(config), root, pulumi.get_stack())
    url = config.get_secret("postgresUrl") or (
        pulumi.Output.secret(os.environ[PG_URL_ENV]) if os.environ.get(PG_URL_ENV) else None
    )
    acl_path = config.get("aclPolicy")
    model = data_model(root, config.get("dataSchema"), config_source(pulumi.get_stack()))
    platform = LocalPlatform(
        "platform",
        LocalPlatformArgs(
            embedded_dir=str(root / (config.get("dataDir") or ".paybill/postgres")),
            url=url,
            acl_policy=load_acl_policy(root / acl_path, config_source(pulumi.get_stack())) if acl_path else None,
            data_model=model,
        ),
    )
    tenants = {
        t.tenant: LocalTenant(t.tenant, LocalTenantArgs(topology=t, platform=platform, data_model=model))
        for t in topologies
    }
    pulumi.export("platform", {"database": platform.database, "host": platform.host, "port": platform.port})
    pulumi.export(
        "tenants",
        {
            t.tenant: {
                "isolation": tenants[t.tenant].isolation,
                "plan": t.plan,
                "database": tenants[t.tenant].db_name,
                "schema": tenants[t.tenant].db_schema,
                "user": tenants[t.tenant].db_user,
                "fingerprint": t.fingerprint,
            }
            for t in topologies
        },
    )
    pulumi.export("credentials", pulumi.Output.secret({slug: tenant.db_password for slug, tenant in tenants.items()}))
    if platform.acl is not None:
        pulumi.export(
            "agent_acl",
            pulumi.Output.secret({"app_role": platform.acl.app_role, "app_password": platform.acl.app_password}),
        )
