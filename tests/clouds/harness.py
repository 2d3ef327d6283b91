"""Run a Pulumi program under mocks and hand back every registration and the program's resolved outputs.

Assertions run after the program finished (``@pulumi.runtime.test`` waits for every outstanding registration),
so a failing assertion is a plain pytest failure, not an exception lost inside an ``apply``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime.mocks import MockCallArgs, MockMonitor, MockResourceArgs, Mocks

ACCOUNT = "123456789012"


@dataclass(frozen=True)
class Registered:
    urn: str
    type: str
    name: str
    custom: bool
    inputs: dict[str, Any]
    parent_types: tuple[str, ...]
    protect: bool
    retain_on_delete: bool
    dependencies: tuple[str, ...]

    @property
    def chain(self) -> tuple[str, ...]:
        return (*self.parent_types, self.type)


def _fake_outputs(args: MockResourceArgs) -> dict[str, Any]:
    """Provider-computed outputs a real provider would return, enough for components to wire resources."""
    ident = f"{args.name}-id"
    return {
        "id": ident,
        "arn": f"arn:aws:mock:us-east-1:{ACCOUNT}:{args.name}",
        "endpoint": f"{args.name}.db.internal",
        "address": f"{args.name}.db.internal",
        "port": 5432,
        "clusterResourceId": f"cluster-{args.name}",
        "resourceId": f"db-{args.name}",
        "keyId": f"key-{args.name}",
        "result": f"pw-{args.name}-Aa1",
        "email": f"{args.name}@mock.iam.gserviceaccount.com",
        "privateIpAddress": "10.0.0.3",
        "connectionName": f"project:region:{args.name}",
        "managementEndpoint": "https://mock-management.kms",
        "crn": f"crn:v1:bluemix:public:mock:us-south:a/acct:{args.name}::",
        "guid": f"guid-{args.name}",
        "principalId": f"principal-{args.name}",
        "keyUriWithVersion": f"https://vault.mock/keys/{args.name}/1",
        "keyUri": f"https://vault.mock/keys/{args.name}",
        "projectId": f"proj-{args.name}",
        "number": "424242",
        "fullyQualifiedDomainName": f"{args.name}.postgres.database.azure.com",
        "clientId": f"client-{args.name}",
        "connectionstrings": [{"hosts": [{"hostname": f"{args.name}.private.databases.appdomain.cloud"}]}],
        "primaryDbEndpointPrivateIp": "10.70.0.5",
    }


class RecordingMonitor(MockMonitor):
    """The mock monitor, also keeping the options mocks do not pass on (protect, retainOnDelete, dependencies)."""

    def __init__(self, mocks: Mocks) -> None:
        super().__init__(mocks)
        self.options: dict[str, tuple[bool, bool, tuple[str, ...]]] = {}

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - the gRPC method name
        response = super().RegisterResource(request)
        self.options[response.urn] = (bool(request.protect), bool(request.retainOnDelete), tuple(request.dependencies))
        return response


class RecordingMocks(Mocks):
    def __init__(self) -> None:
        self.custom: dict[tuple[str, str], bool] = {}
        self.inputs: dict[tuple[str, str], dict[str, Any]] = {}

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        self.custom[(args.typ, args.name)] = bool(args.custom)
        self.inputs[(args.typ, args.name)] = dict(args.inputs)
        state = {**_fake_outputs(args), **args.inputs}
        if isinstance(state.get("networkDetails"), dict):
            state["networkDetails"] = {**state["networkDetails"], "primaryDbEndpointPrivateIp": "10.70.0.5"}
        return f"{args.name}-id", state

    def call(self, args: MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None


@dataclass
class Run:
    resources: list[Registered]
    outputs: dict[str, Any]
    secret: dict[str, bool] = field(default_factory=dict)

    def of_type(self, *types: str) -> list[Registered]:
        return [r for r in self.resources if r.type in types]

    def types(self) -> set[str]:
        return {r.type for r in self.resources}

    def under(self, component_type: str) -> list[Registered]:
        return [r for r in self.resources if component_type in r.parent_types]


def _parse(urn: str) -> tuple[tuple[str, ...], str, str]:
    qualified, name = urn.split("::")[2], urn.split("::")[3]
    chain = tuple(qualified.split("$"))
    return chain[:-1], chain[-1], name


def run_program(program: Callable[[], Mapping[str, pulumi.Input[Any]]], *, stack: str = "test") -> Run:
    """Run ``program`` under fresh mocks; it returns the outputs to resolve (secret-ness is recorded too)."""
    mocks = RecordingMocks()
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project="paybill", stack=stack, preview=False, monitor=monitor)
    resolved: dict[str, Any] = {}
    secret: dict[str, bool] = {}

    @pulumi.runtime.test  # type: ignore[misc]
    def body() -> pulumi.Output[Any]:
        outputs = {k: pulumi.Output.from_input(v) for k, v in program().items()}
        flags = {k: pulumi.Output.from_input(v.is_secret()) for k, v in outputs.items()}
        return pulumi.Output.all(pulumi.Output.all(**outputs), pulumi.Output.all(**flags)).apply(
            lambda pair: (resolved.update(pair[0]), secret.update(pair[1]))
        )

    body()
    resources = []
    for urn in monitor.get_registered_resources():
        parents, typ, name = _parse(urn)
        protect, retain, deps = monitor.options.get(urn, (False, False, ()))
        resources.append(
            Registered(
                urn,
                typ,
                name,
                mocks.custom.get((typ, name), False),
                mocks.inputs.get((typ, name), {}),
                parents,
                protect,
                retain,
                deps,
            )
        )
    return Run(resources, resolved, secret)
