"""The product backend: an HTTP API that embeds the control plane, with operations on a job queue.

- :func:`create_app` builds the FastAPI service (``python -m paybill_infra.service api``);
- :class:`Worker` runs queued operations on the control plane (``python -m paybill_infra.service worker``),
  on as many machines as needed; the API process never runs the engine;
- the queue is procrastinate on the PostgreSQL the project already runs (see
  :mod:`paybill_infra.service.queue` and ``examples/backend/README.md``).
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
