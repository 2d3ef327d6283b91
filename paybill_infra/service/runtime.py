"""What one API process holds: settings, the service store, the queue, and a read-only registry reader.

The API builds no :class:`~paybill_infra.controlplane.ControlPlane` to serve tenants: it reads the registry through a
:class:`~paybill_infra.controlplane.reader.RegistryReader` (no Pulumi CLI, no Alembic, no heartbeat),
applies subscription transitions through the registry's billing store, and turns every tenant operation
into a ``queued`` row of the control plane's journal and a job for the workers. It does not migrate
either: it refuses to start on a database ``python -m paybill_infra.service migrate`` has not brought
to the newest schema.

The one exception is planning a rollout (``POST /rollouts``): assigning the fleet's units to waves lists
them through the control plane, so the first such request builds one (:attr:`ApiRuntime.planner`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from functools import cached_property
from typing import TYPE_CHECKING

import procrastinate
from fastapi import Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from paybill_infra.controlplane import InDatabaseBilling, OperationKind, TenantState, WebhookVerifier
from paybill_infra.controlplane.reader import RegistryReader
from paybill_infra.errors import ControlPlaneError
from paybill_infra.schema.enums import Cloud
from paybill_infra.service.auth import Authenticator
from paybill_infra.service.errors import ServiceError, unauthenticated
from paybill_infra.service.events import Wakeups
from paybill_infra.service.models import OperationView, Principal
from paybill_infra.service.queue import enqueue, make_app
from paybill_infra.service.schema import ready
from paybill_infra.service.sessions import COOKIE, CSRF_HEADER, Sessions
from paybill_infra.service.settings import ServiceSettings
from paybill_infra.service.store import Store
from paybill_infra.targets.base import TargetSettings, default_region

if TYPE_CHECKING:
    from paybill_infra.controlplane import ControlPlane

bearer = HTTPBearer(auto_error=False, description="An API key (`pbk_…`) or a JWT")


class ApiRuntime:
    def __init__(self, settings: ServiceSettings) -> None:
        self.settings = settings
        self.store = Store.connect(settings.sqlalchemy_url())
        with self.store.engine.connect() as conn:
            if not ready(conn):
                self.store.close()
                raise ControlPlaneError(
                    "the database is not at the newest schema: run `python -m paybill_infra.service migrate`"
                )
        self.queue: procrastinate.App = make_app(settings)
        plane_settings = settings.control_plane()
        self.reader = RegistryReader(plane_settings)
        self.targets = plane_settings.targets
        self.billing = InDatabaseBilling(self.reader.registry)
        self.auth = Authenticator(
            self.store, settings.jwt_secret, issuer=settings.jwt_issuer, audience=settings.jwt_audience
        )
        self.webhooks = WebhookVerifier(settings.webhook_secret) if settings.webhook_secret else None
        self.wakeups = Wakeups(settings.conninfo())
        self.sessions = Sessions(settings.session_secret, settings.session_ttl_s)

    @cached_property
    def planner(self) -> ControlPlane:
        """The control plane that plans rollouts (built on first use; it recovers nothing, runs nothing, and
        never looks for the Pulumi CLI: planning needs none)."""
        from paybill_infra.controlplane import ControlPlane

        return ControlPlane(self.settings.control_plane(), recover=False, locate_engine=False)

    def close(self) -> None:
        if "planner" in self.__dict__:
            self.planner.close()
        self.reader.close()
        self.store.close()

    async def submit(
        self,
        kind: OperationKind,
        tenant: str | None,
        principal_actor: str,
        request: Mapping[str, object],
        idempotency_key: str | None,
    ) -> OperationView:
        """Journal the operation as ``queued``, then defer its job (see :mod:`paybill_infra.service.queue`)."""
        operation, created = await asyncio.to_thread(
            self.store.create, kind, tenant, principal_actor, dict(request), idempotency_key
        )
        if created:
            await enqueue(self.queue, self.store, operation)
        elif operation.kind is not kind or operation.tenant != tenant:
            raise ServiceError(409, "Conflict", "the idempotency key belongs to another request", "Idempotency-Key")
        return operation

    def default_region(self, cloud: Cloud) -> str:
        """The region a move to ``cloud`` goes to when the request names none: what the workers' control
        plane would pick, from the same target settings."""
        return default_region(cloud, self.targets.get(cloud, TargetSettings()))

    def settled_state(self, slug: str) -> TenantState | None:
        """The tenant's state if no operation of it is queued or running (then the state is authoritative
        and a transition can be refused at once); ``None`` while one is in flight."""
        if self.store.pending(slug):
            return None
        return self.reader.show(slug).state


def runtime(request: Request) -> ApiRuntime:
    value = request.app.state.runtime
    if not isinstance(value, ApiRuntime):
        raise ServiceError(503, "Service Unavailable", "the service is starting")
    return value


async def authenticate(request: Request, credentials: HTTPAuthorizationCredentials | None) -> Principal:
    """The caller from its bearer credential or, failing that, from an ops-console session cookie (which
    must also present the CSRF token to change anything, and dies with the API key it came from)."""
    rt = runtime(request)
    token = request.cookies.get(COOKIE)
    if credentials is not None or token is None:
        return await asyncio.to_thread(rt.auth.authenticate, credentials.credentials if credentials else None)
    session = rt.sessions.verify(token)
    if session.key_id is not None and await asyncio.to_thread(rt.store.key, session.key_id) is None:
        raise unauthenticated("the API key of this session was revoked")
    rt.sessions.check_csrf(session, request.method, request.headers.get(CSRF_HEADER))
    return session.principal
