"""The shared provider host's servicer over real gRPC (in this process): the protocol the engine speaks to an
attached ``pulumi-python`` provider. The engine itself drives it in ``tests/controlplane/test_provider_host.py``."""

from __future__ import annotations

import base64
import os
import pickle
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import grpc
import pytest
from google.protobuf import empty_pb2, struct_pb2
from pulumi.dynamic import (
    CheckResult,
    ConfigureRequest,
    CreateResult,
    DiffResult,
    ReadResult,
    ResourceProvider,
    UpdateResult,
)
from pulumi.runtime import rpc
from pulumi.runtime.proto import plugin_pb2, provider_pb2, provider_pb2_grpc

from paybill_infra.engine.provider_host import PROVIDER_KEY, peer_uid, serve


class Echo(ResourceProvider):
    """Counts its configurations; creates ``echo-<name>`` unless asked to fail."""

    configured: ClassVar[list[ConfigureRequest]] = []
    deleted: ClassVar[list[str]] = []

    def configure(self, req: ConfigureRequest) -> None:
        Echo.configured.append(req)

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        return CheckResult({**news, "checked": True}, [])

    def create(self, props: dict[str, Any]) -> CreateResult:
        if props.get("fail"):
            raise RuntimeError("asked to fail: boom-7")
        return CreateResult(id_=f"echo-{props['name']}", outs={"name": props["name"], "size": 3})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        renamed = olds.get("name") != news.get("name")
        return DiffResult(changes=olds != news, replaces=["name"] if renamed else [], delete_before_replace=renamed)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        if props.get("gone"):
            return ReadResult(None, {})
        return ReadResult(id_, {**props, "size": 4}, {"name": props["name"], "drift": ["size"]})

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult({**news, "size": 5})

    def delete(self, id_: str, _props: dict[str, Any]) -> None:
        Echo.deleted.append(id_)


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


def props(**values: Any) -> struct_pb2.Struct:
    return struct(**{PROVIDER_KEY: PICKLED}, **values)


def test_diff_reports_changes_and_replacements(host: Any) -> None:
    same = host.Diff(provider_pb2.DiffRequest(id="e", olds=props(name="a"), news=props(name="a")))
    assert same.changes == provider_pb2.DiffResponse.DIFF_NONE and list(same.replaces) == []
    renamed = host.Diff(provider_pb2.DiffRequest(id="e", olds=props(name="a"), news=props(name="b")))
    assert renamed.changes == provider_pb2.DiffResponse.DIFF_SOME
    assert list(renamed.replaces) == ["name"] and renamed.deleteBeforeReplace


def test_read_update_and_delete(host: Any) -> None:
    read = host.Read(provider_pb2.ReadRequest(id="e", properties=props(name="a")))
    assert read.id == "e" and read.properties["size"] == 4
    assert rpc.deserialize_properties(read.inputs) == {"name": "a", "drift": ["size"], PROVIDER_KEY: PICKLED}
    gone = host.Read(provider_pb2.ReadRequest(id="e", properties=props(name="a", gone=True)))
    assert gone.id == ""
    by_inputs = host.Read(provider_pb2.ReadRequest(id="e", inputs=props(name="a")))
    assert by_inputs.properties["name"] == "a"
    updated = host.Update(provider_pb2.UpdateRequest(id="e", olds=props(name="a"), news=props(name="a")))
    assert dict(updated.properties) == {"name": "a", "size": 5, PROVIDER_KEY: PICKLED}
    host.Delete(provider_pb2.DeleteRequest(id="e-del", properties=props(name="a")))
    assert Echo.deleted[-1] == "e-del"


def test_a_client_of_another_user_is_refused_before_its_request_is_used() -> None:
    Echo.deleted.clear()
    server, port = serve("proj", threads=2, uid=os.getuid() + 1)
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        stranger = provider_pb2_grpc.ResourceProviderStub(channel)
        for call in (
            lambda: stranger.GetPluginInfo(empty_pb2.Empty()),
            lambda: stranger.Delete(provider_pb2.DeleteRequest(id="e-x", properties=props(name="a"))),
        ):
            with pytest.raises(grpc.RpcError) as info:
                call()
            assert info.value.code() is grpc.StatusCode.PERMISSION_DENIED
        assert Echo.deleted == []
    finally:
        channel.close()
        server.stop(0)


def test_the_connecting_sockets_owner_is_read_from_the_kernels_tables(tmp_path: Path) -> None:
    """In the IPv4 table, or (gRPC's dual-stack sockets) in the IPv6 one with the IPv4-mapped address."""
    header = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
    v4, v6 = tmp_path / "tcp", tmp_path / "tcp6"
    mapped = "0000000000000000FFFF0000"
    v4.write_text(
        header + "   0: 0100007F:D431 0100007F:1F90 01 00000000:00000000 00:00000000 00000000  1001        0 11 1\n"
    )
    v6.write_text(
        header
        + f"   0: {mapped}0100007F:D432 {mapped}0100007F:1F90 01 00000000:00000000 00:00000000 00000000  1002  0 12 1\n"
        + f"   1: {mapped}0100007F:1F90 {mapped}0100007F:D432 01 00000000:00000000 00:00000000 00000000     0  0 13 1\n"
    )
    if sys.byteorder == "big":
        for table in (v4, v6):
            table.write_text(table.read_text().replace("0100007F", "7F000001").replace("FFFF0000", "0000FFFF"))
    tables = (str(v4), str(v6))
    assert peer_uid("ipv4:127.0.0.1:54321", 8080, tables) == 1001
    assert peer_uid("ipv4:127.0.0.1:54322", 8080, tables) == 1002
    assert peer_uid("ipv4:127.0.0.1:54323", 8080, tables) is None
    assert peer_uid("ipv6:[::1]:54321", 8080, tables) is None
    assert peer_uid("unix:/tmp/x", 8080, tables) is None
