"""Pulumi mocks that answer like the five clouds' providers, and can point every database at a real server.

:class:`CloudMocks` returns, for each resource, what the real provider would compute: ARNs in the account and
region, private addresses, endpoints, key URIs, IBM CRNs. Inputs are echoed back (as providers do), so a
component that reads an input-derived output still sees it.

``database`` makes the mocks stand a real PostgreSQL in for the managed database servers: the server
resources (Aurora/RDS, Azure Flexible Server, Cloud SQL, OCI PostgreSQL, IBM Databases for PostgreSQL) report
its host and port, and the administrator passwords (``<owner>-admin-password``) are its password. Given a
function instead of one server, each server gets its own: the function receives the name of the component
that owns the server (``platform``, a tenant's slug), the prefix its server and its admin password share.
That is how the control plane's database layer runs on real servers while the infrastructure runs under mocks.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pulumi.runtime.mocks import MockCallArgs, MockResourceArgs, Mocks

ACCOUNT = "123456789012"
"""The AWS account id (and the number other clouds' ids are derived from) the mocks answer with."""


@dataclass(frozen=True)
class DatabaseStandIn:
    """A real PostgreSQL server that answers for every managed database server under mocks."""

    host: str
    port: int
    password: str

    def __repr__(self) -> str:
        return f"DatabaseStandIn(host={self.host!r}, port={self.port}, password=***)"


_SERVER_HOSTS: dict[str, tuple[str, ...]] = {
    "aws:rds/cluster:Cluster": ("endpoint", "readerEndpoint"),
    "aws:rds/instance:Instance": ("address", "endpoint"),
    "azure-native:dbforpostgresql:Server": ("fullyQualifiedDomainName",),
    "gcp:sql/databaseInstance:DatabaseInstance": ("privateIpAddress",),
    "oci:Psql/dbSystem:DbSystem": (),
    "ibm:index/database:Database": (),
}
"""The managed PostgreSQL servers, and which of their outputs carry the host."""

ADMIN_PASSWORD_SUFFIX = "-admin-password"  # noqa: S105 - a resource-name suffix, not a password


def _ip(name: str, prefix: str = "10.0") -> str:
    digest = hashlib.sha256(name.encode()).digest()
    return f"{prefix}.{digest[0]}.{max(digest[1], 2)}"


def _region(inputs: dict[str, Any]) -> str:
    return str(inputs.get("region") or inputs.get("location") or "eu-west-1")


def cloud_outputs(typ: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """What the provider of ``typ`` computes for a resource named ``name``: identifiers, addresses and
    endpoints in that cloud's own formats."""
    provider = typ.split(":", 1)[0]
    region = _region(inputs)
    if provider == "aws":
        resource = typ.rsplit(":", 1)[-1].lower()
        return {
            "arn": f"arn:aws:{typ.split(':')[1].split('/')[0]}:{region}:{ACCOUNT}:{resource}/{name}",
            "endpoint": f"{name}.cluster-c0ffee.{region}.rds.amazonaws.com",
            "readerEndpoint": f"{name}.cluster-ro-c0ffee.{region}.rds.amazonaws.com",
            "address": f"{name}.c0ffee.{region}.rds.amazonaws.com",
            "port": 5432,
            "clusterResourceId": f"cluster-{hashlib.sha256(name.encode()).hexdigest()[:26].upper()}",
            "resourceId": f"db-{hashlib.sha256(name.encode()).hexdigest()[:26].upper()}",
            "keyId": hashlib.sha256(name.encode()).hexdigest()[:32],
        }
    if provider == "azure-native":
        kind = typ.rsplit(":", 1)[-1]
        own_name = inputs.get(f"{kind[0].lower()}{kind[1:]}Name") or inputs.get("resourceName") or name
        return {
            "name": own_name,
            "fullyQualifiedDomainName": f"{inputs.get('serverName', name)}.postgres.database.azure.com",
            "principalId": f"principal-{name}",
            "clientId": f"client-{name}",
            "keyUri": f"https://{name}.vault.azure.net/keys/{name}",
            "keyUriWithVersion": f"https://{name}.vault.azure.net/keys/{name}/0123456789abcdef",
        }
    if provider == "gcp":
        return {
            "privateIpAddress": _ip(name, "10.60"),
            "connectionName": f"{inputs.get('project', 'project')}:{region}:{name}",
            "email": f"{inputs.get('accountId', name)}@{inputs.get('project', 'project')}.iam.gserviceaccount.com",
            "projectId": str(inputs.get("projectId") or f"proj-{name}"),
            "number": "424242424242",
        }
    if provider == "oci":
        return {"managementEndpoint": f"https://{name}-management.kms.{region}.oraclecloud.com"}
    if provider == "ibm":
        return {
            "crn": f"crn:v1:bluemix:public:{name}:{region}:a/{ACCOUNT}:{name}::",
            "guid": hashlib.sha256(name.encode()).hexdigest()[:32],
            "connectionstrings": [{"hosts": [{"hostname": f"{name}.private.databases.appdomain.cloud", "port": 5432}]}],
        }
    return {}


class CloudMocks(Mocks):
    """Mocks answering as the clouds' providers; ``database`` stands a real server in for managed databases."""

    def __init__(self, database: DatabaseStandIn | Callable[[str], DatabaseStandIn] | None = None) -> None:
        self.database = database

    def _server(self, owner: str) -> DatabaseStandIn | None:
        if self.database is None or isinstance(self.database, DatabaseStandIn):
            return self.database
        return self.database(owner)

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        inputs = dict(args.inputs)
        state = {**cloud_outputs(args.typ, args.name, inputs), **inputs}
        if args.typ == "random:index/randomPassword:RandomPassword":
            state["result"] = self._password(args.name)
        if args.typ == "oci:Psql/dbSystem:DbSystem":
            details = dict(state.get("networkDetails") or {})
            state["networkDetails"] = {**details, "primaryDbEndpointPrivateIp": _ip(args.name, "10.70")}
        if self.database is not None and args.typ in _SERVER_HOSTS:
            self._stand_in(args.typ, args.name, state)
        return f"{args.name}-id", state

    def call(self, args: MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None

    def _password(self, name: str) -> str:
        server = (
            self._server(name.removesuffix(ADMIN_PASSWORD_SUFFIX)) if name.endswith(ADMIN_PASSWORD_SUFFIX) else None
        )
        if server is not None:
            return server.password
        return "Mock" + hashlib.sha256(name.encode()).hexdigest()[:36]

    def _stand_in(self, typ: str, name: str, state: dict[str, Any]) -> None:
        server = self._server(name.rsplit("-", 1)[0])
        if server is None:
            return
        host, port = server.host, server.port
        state.update({key: host for key in _SERVER_HOSTS[typ]}, port=port)
        if typ == "oci:Psql/dbSystem:DbSystem":
            state["networkDetails"] = {**state["networkDetails"], "primaryDbEndpointPrivateIp": host}
        if typ == "ibm:index/database:Database":
            state["connectionstrings"] = [{"hosts": [{"hostname": host, "port": port}]}]
