"""The shared provider host's servicer over real gRPC (in this process): the protocol the engine speaks to an
attached ``pulumi-python`` provider. The engine itself drives it in ``tests/controlplane/test_provider_host.py``."""

from __future__ import annotations

import base64
import pickle
from collections.abc import Iterator
from typing import Any, ClassVar

import grpc
import pytest
from google.protobuf import empty_pb2, struct_pb2
from pulumi.dynamic import CheckResult, ConfigureRequest, CreateResult, ResourceProvider
from pulumi.runtime import rpc
from pulumi.runtime.proto import plugin_pb2, provider_pb2, provider_pb2_grpc

from paybill_infra.engine.provider_host import PROVIDER_KEY, serve


class Echo(ResourceProvider):
    """Counts its configurations; creates ``echo-<name>`` unless asked to fail."""

    configured: ClassVar[list[ConfigureRequest]] = []

    def configure(self, req: ConfigureRequest) -> None:
        Echo.configured.append(req)

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        return CheckResult({**news, "checked": True}, [])

    def create(self, props: dict[str, Any]) -> CreateResult:
        if props.get("fail"):
            raise RuntimeError("asked to fail: boom-7")
        return CreateResult(id_=f"echo-{props['name']}", outs={"name": props["name"], "size": 3})


PICKLED = base64.b64encode(pickle.dumps(Echo())).decode()  # by reference: the host imports this module


def struct(**values: Any) -> struct_pb2.Struct:
    out = struct_pb2.Struct()
    out.update(values)
    return out


@pytest.fixture(scope="module")
def host() -> Iterator[Any]:
    server, port = serve("proj", threads=4)
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    yield provider_pb2_grpc.ResourceProviderStub(channel)
    channel.close()
    server.stop(0)


def test_an_engine_can_attach_and_configure(host: Any) -> None:
    host.Attach(plugin_pb2.PluginAttach(address="127.0.0.1:1"))
    host.Attach(plugin_pb2.PluginAttach(address="127.0.0.1:2"))  # a second engine
    assert host.GetPluginInfo(empty_pb2.Empty()).version
    assert host.Configure(provider_pb2.ConfigureRequest(args=struct())).acceptSecrets is False
    host.Cancel(empty_pb2.Empty())


def test_a_configuration_is_refused_not_applied_to_every_engine(host: Any) -> None:
    with pytest.raises(grpc.RpcError) as info:
        host.Configure(provider_pb2.ConfigureRequest(args=struct(region="x")))
    assert info.value.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert "['region']" in info.value.details()


def test_check_and_create_carry_the_provider_and_unpickle_it_once(host: Any) -> None:
    Echo.configured.clear()
    checked = host.Check(
        provider_pb2.CheckRequest(
            olds=struct(**{PROVIDER_KEY: PICKLED}), news=struct(**{PROVIDER_KEY: rpc.UNKNOWN, "name": "a"})
        )
    )
    assert dict(checked.inputs) == {PROVIDER_KEY: rpc.UNKNOWN, "name": "a", "checked": True}
    for name in ("a", "b"):
        created = host.Create(provider_pb2.CreateRequest(properties=struct(**{PROVIDER_KEY: PICKLED, "name": name})))
        assert created.id == f"echo-{name}"
        assert rpc.deserialize_properties(created.properties) == {"name": name, "size": 3, PROVIDER_KEY: PICKLED}
    assert len(Echo.configured) == 1


def test_a_provider_error_aborts_the_call_with_its_traceback(host: Any) -> None:
    with pytest.raises(grpc.RpcError) as info:
        host.Create(provider_pb2.CreateRequest(properties=struct(**{PROVIDER_KEY: PICKLED, "name": "x", "fail": True})))
    assert info.value.code() is grpc.StatusCode.UNKNOWN
    assert "Traceback" in info.value.details() and "RuntimeError: asked to fail: boom-7" in info.value.details()


def test_a_missing_provider_is_named(host: Any) -> None:
    with pytest.raises(grpc.RpcError) as info:
        host.Create(provider_pb2.CreateRequest(properties=struct(name="x")))
    assert f"'{PROVIDER_KEY}' must hold a pickled provider" in info.value.details()
