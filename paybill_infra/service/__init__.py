"""The product backend: an HTTP API over the registry, with operations run on the control plane by queue workers.

- :func:`create_app` builds the FastAPI service (``python -m paybill_infra.service api``);
- :class:`Worker` runs queued operations on the control plane (``python -m paybill_infra.service worker``),
  on as many machines as needed; the API process never runs the engine;
- the queue is procrastinate on the PostgreSQL the project already runs (see
  :mod:`paybill_infra.service.queue` and ``examples/backend/README.md``);
- ``python -m paybill_infra.service migrate`` brings the database to the newest schema
  (:mod:`paybill_infra.service.migrate`).

The path of one onboarding, from ``POST /tenants`` to the engine, under one operation id throughout:

1. :func:`paybill_infra.service.routes.onboard`: authorization, then the control plane's own rules
   (:func:`paybill_infra.controlplane.transitions.check_onboard`) on what the read-only registry reader says;
2. :meth:`paybill_infra.service.runtime.ApiRuntime.submit`: the operation's one record, a ``queued`` row of
   the control plane's journal (``operations``), then its job (:func:`paybill_infra.service.queue.enqueue`);
   the API answers 202 with the row's id;
3. :meth:`paybill_infra.service.worker.Worker.run_operation`: a worker takes the job and records itself on
   the row;
4. :meth:`paybill_infra.service.worker.Worker.dispatch`: ``ControlPlane.onboard(..., operation_id=<the id>)``;
5. :meth:`paybill_infra.controlplane.operation_runner.OperationRunner.operate`: the tenant lock, the same rules
   again in the registry transaction, and the claim of that same row (``queued`` -> ``running``);
6. :meth:`paybill_infra.controlplane.reconcile.Reconciler.sync`: the stack's (possibly batched) run;
7. :meth:`paybill_infra.controlplane.stacks.StackManager.run`: the engine; its events carry the id and reach
   ``svc_events`` through :meth:`paybill_infra.service.store.Store.record_event`, then every SSE stream.
"""

from paybill_infra.service.app import create_app
from paybill_infra.service.auth import Authenticator, create_api_key, issue_token
from paybill_infra.service.events import Wakeups, sse_stream
from paybill_infra.service.models import (
    OperationView,
    OpsSummary,
    PlanChange,
    Principal,
    Problem,
    ProblemField,
    Reason,
    Role,
    Scope,
    WebhookAccepted,
)
from paybill_infra.service.settings import ServiceSettings
from paybill_infra.service.store import Store
from paybill_infra.service.worker import Worker

__all__ = [
    "Authenticator",
    "OperationView",
    "OpsSummary",
    "PlanChange",
    "Principal",
    "Problem",
    "ProblemField",
    "Reason",
    "Role",
    "Scope",
    "ServiceSettings",
    "Store",
    "Wakeups",
    "WebhookAccepted",
    "Worker",
    "create_api_key",
    "create_app",
    "issue_token",
    "sse_stream",
]
