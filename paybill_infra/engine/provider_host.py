# ruff: noqa: N802 - the servicer's methods are the gRPC methods of the ResourceProvider service
"""A long-lived host for ``pulumi.dynamic`` providers that many engine runs attach to, one process for all.

Why: every engine run otherwise starts its own ``pulumi-resource-pulumi-python`` plugin, a fresh Python
process that imports ``pulumi.dynamic``, gRPC and dill and then unpickles our providers (see ``## One engine
run`` in ``BENCHMARKS.md``). With ``PULUMI_DEBUG_PROVIDERS=pulumi-python:<port>`` in its environment the
engine instead *attaches* to a provider already listening on ``127.0.0.1:<port>``: it calls ``Handshake``
(this host leaves it unimplemented, which the engine tolerates) and then ``Attach``, which must succeed,
and never stops the process. The SDK's own host implements no ``Attach`` and starts serving at import time,
so this module serves the same protocol itself:

- every resource's properties carry its provider as a base64 dill pickle under ``__provider``; the host
  unpickles each distinct pickle once and keeps it for the life of the process (several engines may ask for
  the same one at once: one lock guards the cache);
- ``Check``/``Diff`` see unknown values (a preview): a provider that is itself unknown is taken from the old
  properties;
- every result carries ``__provider`` back, so the state keeps naming the provider;
- a provider error aborts the call with ``UNKNOWN`` and the traceback, the message the engine prints for the
  SDK's host too, so :func:`~paybill_infra.engine.errors.map_engine_error` sees the same text;
- ``Configure`` answers ``acceptSecrets: false``: the engine hands secret inputs over as plain values and
  marks the outputs named secret itself, exactly as with the SDK's host. The host serves providers that take
  no configuration (all of ours): several engines attach to one process, and a call does not say which
  engine's configuration it belongs to, so a non-empty configuration is refused instead of being applied to
  the wrong run.

Exposure: like the SDK's own host, this one listens on 127.0.0.1 and unpickles what a client sends, so a
client it served could make it run code as the control plane's user. The SDK's host serves anyone who
connects while its run lasts; this one lives as long as the control plane, so it serves only clients running
as its own user (:class:`SameUserOnly`: the kernel's socket table names the owner of the connecting socket),
which could run code as that user anyway. Every other local user's call is refused before it is read.

The process lives as long as the process that started it (``--owner``): it waits on a pidfd of its owner
(:func:`paybill_infra.lifeline.exit_with`). Not a parent-death signal: that fires when the *thread* that
started the host ends, and the control plane starts it from whichever worker thread runs the engine first.
It carries the owner's lifeline mark in its environment, so :func:`~paybill_infra.lifeline.reap_orphans`
finds it should it ever be left behind. It prints its port on the first line of its standard output.
Started by :class:`~paybill_infra.engine.host_process.SharedProviderHost`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import socket
import struct
import threading
import traceback
from collections.abc import Callable, Mapping
from concurrent import futures
from typing import Any, NoReturn, TypeVar

import dill
import grpc
import psutil
from google.protobuf import empty_pb2, struct_pb2
from pulumi.dynamic import Config, ConfigureRequest, ResourceProvider
from pulumi.runtime import rpc
from pulumi.runtime.proto import plugin_pb2, provider_pb2, provider_pb2_grpc

from paybill_infra import lifeline

PROVIDER_KEY = "__provider"
PLUGIN_VERSION = "0.1.0"
MAX_MESSAGE_BYTES = 400 * 2**20
"""The limit of the SDK's own provider host for one message (gRPC's default, 4 MB, is too small for large
properties)."""
LOOPBACK = "127.0.0.1"
TCP_TABLES = ("/proc/net/tcp", "/proc/net/tcp6")
"""The kernel's TCP sockets, with the user owning each (Linux)."""
DEFAULT_THREADS = 64
"""Calls served at once: engines run up to ``engine_parallel`` (8) resources each, ``workers`` (4) at once."""
_R = TypeVar("_R")


class DynamicProviderHost(provider_pb2_grpc.ResourceProviderServicer):
    """The ``ResourceProvider`` service for dynamic resources, shared by every engine attached to it."""

    def __init__(self, project: str) -> None:
        self.project = project
        self._providers: dict[str, ResourceProvider] = {}
        self._lock = threading.Lock()

    def provider(self, props: Mapping[str, Any]) -> ResourceProvider:
        """The provider pickled in ``props``, unpickled and configured on its first use in this process."""
        pickled = props.get(PROVIDER_KEY)
        if not isinstance(pickled, str):
            raise ValueError(f"'{PROVIDER_KEY}' must hold a pickled provider (a base64 string), got {type(pickled)}")
        with self._lock:
            found = self._providers.get(pickled)
            if found is None:
                found = dill.loads(base64.b64decode(pickled))  # noqa: S301 - written by our own program
                if not isinstance(found, ResourceProvider):
                    raise TypeError(f"'{PROVIDER_KEY}' holds a {type(found).__name__}, not a ResourceProvider")
                found.configure(ConfigureRequest(Config(raw_config={}, project_name=self.project)))
                self._providers[pickled] = found
            return found

    def Attach(self, request: plugin_pb2.PluginAttach, context: grpc.ServicerContext) -> empty_pb2.Empty:
        """Each engine announces its address; dynamic providers never call back into the engine."""
        return empty_pb2.Empty()

    def GetPluginInfo(self, request: empty_pb2.Empty, context: grpc.ServicerContext) -> plugin_pb2.PluginInfo:
        return plugin_pb2.PluginInfo(version=PLUGIN_VERSION)

    def Cancel(self, request: empty_pb2.Empty, context: grpc.ServicerContext) -> empty_pb2.Empty:
        """One engine cancelling must not stop the calls of the others: nothing to do."""
        return empty_pb2.Empty()

    def Configure(
        self, request: provider_pb2.ConfigureRequest, context: grpc.ServicerContext
    ) -> provider_pb2.ConfigureResponse:
        config = rpc.deserialize_properties(request.args)
        if config:
            context.abort(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"the shared provider host serves providers without configuration; got keys {sorted(config)}",
            )
        return provider_pb2.ConfigureResponse(acceptSecrets=False)

    def Check(self, request: provider_pb2.CheckRequest, context: grpc.ServicerContext) -> provider_pb2.CheckResponse:
        def check() -> provider_pb2.CheckResponse:
            olds = rpc.deserialize_properties(request.olds, True)
            news = rpc.deserialize_properties(request.news, True)
            result = self.provider(_known(news, olds)).check(olds, news)
            inputs = {**(result.inputs or {}), PROVIDER_KEY: news[PROVIDER_KEY]}
            failures = [provider_pb2.CheckFailure(property=f.property, reason=f.reason) for f in result.failures or ()]
            return provider_pb2.CheckResponse(inputs=_struct(inputs), failures=failures)

        return _served(context, check)

    def Diff(self, request: provider_pb2.DiffRequest, context: grpc.ServicerContext) -> provider_pb2.DiffResponse:
        def diff() -> provider_pb2.DiffResponse:
            olds = rpc.deserialize_properties(request.olds, True)
            news = rpc.deserialize_properties(request.news, True)
            result = self.provider(_known(news, olds)).diff(request.id, olds, news)
            changes = (
                provider_pb2.DiffResponse.DIFF_UNKNOWN
                if result.changes is None
                else provider_pb2.DiffResponse.DIFF_SOME
                if result.changes
                else provider_pb2.DiffResponse.DIFF_NONE
            )
            return provider_pb2.DiffResponse(
                changes=changes,
                replaces=result.replaces or [],
                deleteBeforeReplace=bool(result.delete_before_replace),
            )

        return _served(context, diff)

    def Create(self, request: provider_pb2.CreateRequest, context: grpc.ServicerContext) -> provider_pb2.CreateResponse:
        def create() -> provider_pb2.CreateResponse:
            props = rpc.deserialize_properties(request.properties)
            result = self.provider(props).create(props)
            outs = {**(result.outs or {}), PROVIDER_KEY: props[PROVIDER_KEY]}
            return provider_pb2.CreateResponse(id=result.id, properties=_struct(outs))

        return _served(context, create)

    def Read(self, request: provider_pb2.ReadRequest, context: grpc.ServicerContext) -> provider_pb2.ReadResponse:
        def read() -> provider_pb2.ReadResponse:
            # A refresh sends the last outputs; a lookup by id only the inputs.
            props = rpc.deserialize_properties(request.properties) or rpc.deserialize_properties(request.inputs)
            result = self.provider(props).read(request.id, props)
            pickled = props[PROVIDER_KEY]
            response = provider_pb2.ReadResponse(
                id=result.id or "", properties=_struct({**(result.outs or {}), PROVIDER_KEY: pickled})
            )
            if result.inputs is not None:
                response.inputs.CopyFrom(_struct({**result.inputs, PROVIDER_KEY: pickled}))
            return response

        return _served(context, read)

    def Update(self, request: provider_pb2.UpdateRequest, context: grpc.ServicerContext) -> provider_pb2.UpdateResponse:
        def update() -> provider_pb2.UpdateResponse:
            olds = rpc.deserialize_properties(request.olds)
            news = rpc.deserialize_properties(request.news)
            result = self.provider(news).update(request.id, olds, news)
            outs = {**(result.outs or {}), PROVIDER_KEY: news[PROVIDER_KEY]}
            return provider_pb2.UpdateResponse(properties=_struct(outs))

        return _served(context, update)

    def Delete(self, request: provider_pb2.DeleteRequest, context: grpc.ServicerContext) -> empty_pb2.Empty:
        def delete() -> empty_pb2.Empty:
            props = rpc.deserialize_properties(request.properties)
            self.provider(props).delete(request.id, props)
            return empty_pb2.Empty()

        return _served(context, delete)


def _known(news: Mapping[str, Any], olds: Mapping[str, Any]) -> Mapping[str, Any]:
    """The properties to take the provider from: the new ones unless their provider is not known yet (an
    unknown value deserializes to a ``pulumi.output.Unknown``, not to a pickle)."""
    return news if isinstance(news.get(PROVIDER_KEY), str) else olds


def _struct(props: Mapping[str, Any]) -> struct_pb2.Struct:
    """``props`` as the engine's property struct (the SDK's own serialization: unknowns, secrets, assets)."""
    return asyncio.run(rpc.serialize_properties(dict(props), {}))


def _served(context: grpc.ServicerContext, call: Callable[[], _R]) -> _R:
    """Run ``call``; any error aborts the RPC with its traceback, as the engine expects of a dynamic provider."""
    try:
        return call()
    except Exception:
        _abort(context, traceback.format_exc())


def _abort(context: grpc.ServicerContext, detail: str) -> NoReturn:
    context.abort(grpc.StatusCode.UNKNOWN, detail)
    raise AssertionError("grpc's abort always raises")  # pragma: no cover


class SameUserOnly(grpc.ServerInterceptor):  # type: ignore[misc]
    """Serve a call only when the connecting socket belongs to ``uid`` (this process's user by default); any
    other call, and any method that is not a plain request/response one, is refused (``PERMISSION_DENIED``,
    ``UNIMPLEMENTED``) before its request is used."""

    def __init__(self, uid: int | None = None) -> None:
        self.uid = os.getuid() if uid is None else uid
        self.port = 0
        """The port the server listens on (set once it is bound)."""

    def intercept_service(
        self, continuation: Callable[[Any], Any], handler_call_details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return None
        served = handler.unary_unary

        def guarded(request: Any, context: grpc.ServicerContext) -> Any:
            owner = peer_uid(context.peer(), self.port)
            if owner != self.uid:
                context.abort(grpc.StatusCode.PERMISSION_DENIED, "the provider host serves its own user only")
            return served(request, context)

        return grpc.unary_unary_rpc_method_handler(
            guarded,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


def peer_uid(peer: str, port: int, tables: tuple[str, ...] = TCP_TABLES) -> int | None:
    """The user owning the client socket of ``peer`` (gRPC's ``ipv4:127.0.0.1:<port>``) connected to ``port``
    on 127.0.0.1, from the kernel's socket ``tables`` (gRPC's sockets are dual-stack, so they are listed in
    the IPv6 table with the IPv4-mapped address); ``None`` for any other peer, or one not found."""
    family, _, address = peer.partition(":")
    host, _, client_port = address.rpartition(":")
    if family != "ipv4" or host != LOOPBACK or not client_port.isdigit():
        return None
    forms = (
        f"{struct.unpack('=I', socket.inet_pton(socket.AF_INET, LOOPBACK))[0]:08X}",
        "".join(f"{w:08X}" for w in struct.unpack("=4I", socket.inet_pton(socket.AF_INET6, f"::ffff:{LOOPBACK}"))),
    )
    wanted = {(f"{a}:{int(client_port):04X}", f"{a}:{port:04X}") for a in forms}
    for table in tables:
        with open(table, encoding="ascii") as rows:
            for row in rows:
                fields = row.split()
                if len(fields) > 7 and (fields[1], fields[2]) in wanted:
                    return int(fields[7])
    return None


def serve(project: str, *, threads: int = DEFAULT_THREADS, uid: int | None = None) -> tuple[grpc.Server, int]:
    """Start serving ``uid``'s clients (this process's user by default) on a free port of 127.0.0.1; returns
    the server and its port."""
    guard = SameUserOnly(uid)
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=threads, thread_name_prefix="paybill-provider"),
        interceptors=[guard],
        options=[("grpc.max_receive_message_length", MAX_MESSAGE_BYTES)],
    )
    provider_pb2_grpc.add_ResourceProviderServicer_to_server(DynamicProviderHost(project), server)
    guard.port = server.add_insecure_port(f"{LOOPBACK}:0")
    server.start()
    return server, guard.port


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m paybill_infra.engine.provider_host", description=__doc__)
    parser.add_argument("--owner", type=int, required=True, help="pid of the process this host lives with")
    parser.add_argument("--project", default="project", help="project name handed to the providers' configure")
    parser.add_argument("--threads", type=int, default=DEFAULT_THREADS)
    args = parser.parse_args(argv)
    owner = psutil.Process(args.owner)
    if os.getppid() != owner.pid:  # the owner died before this process got here
        raise SystemExit(f"the owner {args.owner} is gone")
    lifeline.exit_with(owner)
    server, port = serve(args.project, threads=args.threads)
    print(port, flush=True)
    server.wait_for_termination()


if __name__ == "__main__":
    main()
