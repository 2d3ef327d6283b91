"""The skeleton every mutating operation runs in: idempotency, the tenant lock, the journal and the audit log.

1. An idempotency key, or an operation id the caller chose and already used, replays the first result of
   the same request (a different request under the same key or id is an
   :class:`~paybill_infra.errors.IdempotencyConflictError`). A caller that names its operations (the product
   backend's queue) gets its id on the journal row and on every event: one id from request to engine. When
   that caller queued the operation first, its ``queued`` row is the journal entry: step 4 claims it.
2. The tenant's lock is taken (one operation per tenant, across processes).
3. ``check`` runs the rules in the registry transaction; a refusal is audited and raised, nothing recorded.
4. ``prepare`` writes the registry's new intent and the operation is journaled, in the same transaction.
5. ``body`` converges the stacks; its result finishes the journal entry, or its error marks it failed. The
   last milestone is sent *before* the terminal status is written, together with its audit record: whoever
   sees the status has every event and the audit record already (an SSE stream ends on the status).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, NoReturn

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from paybill_infra.controlplane.inputs import valid_key, valid_operation_id
from paybill_infra.controlplane.jobs import request_hash
from paybill_infra.controlplane.models import OperationKind, OperationResult, OperationStatus, ProgressPhase
from paybill_infra.controlplane.runtime import Runtime
from paybill_infra.errors import MigrationError, OperationFailedError, PaybillError

Check = Callable[[Session], OperationResult | None]
Prepare = Callable[[Session, str], None]
Body = Callable[[str], dict[str, Any]]

AUDITED_SUMMARY = ("stack", "changes", "migration", "from", "to", "rows", "retention", "export", "teardown")
"""What of an operation summary goes to the audit log: counts, stacks and paths, never outputs."""


class OperationRunner:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def operate(
        self,
        kind: OperationKind,
        slug: str,
        actor: str,
        request: dict[str, Any],
        key: str | None,
        *,
        check: Check,
        prepare: Prepare,
        body: Body,
        operation_id: str | None = None,
    ) -> OperationResult:
        rt = self.rt
        digest = request_hash(kind, slug, request)
        key = valid_key(key) if key is not None else None
        named = valid_operation_id(operation_id) if operation_id is not None else None
        timeout = rt.settings.lock_timeout_s
        earlier = rt.journal.dedupe(digest, timeout, key=key, operation_id=named)
        if earlier is not None:
            return earlier
        operation_id = named or str(uuid.uuid4())
        rt.events.milestone(ProgressPhase.QUEUED, kind.value, operation_id=operation_id, tenant=slug, stack=None)
        with rt.locks.hold(f"tenant:{slug}", operation_id, timeout):
            # the first owner of the key (or id) may have finished while this call waited for the lock
            earlier = rt.journal.dedupe(digest, timeout, key=key, operation_id=named)
            if earlier is not None:
                return earlier
            try:
                with rt.registry.transaction() as session:
                    earlier = check(session)
                    if earlier is None:
                        prepare(session, operation_id)
                        rt.journal.start(session, operation_id, kind, slug, actor, request, key)
            except PaybillError as err:
                self.refuse(err, actor, slug, kind.value)
            except IntegrityError:
                # The tenant lock does not cover another tenant racing for the same idempotency key: whoever
                # lost the insert sees the winner's row now (a different request: IdempotencyConflictError).
                claimed = rt.journal.dedupe(digest, timeout, key=key, operation_id=named)
                if claimed is None:
                    raise
                return claimed
            if earlier is not None:
                self.audit(actor, f"{kind.value}.deduplicated", slug, earlier.id, {})
                return earlier
            self.audit(actor, f"{kind.value}.started", slug, operation_id, request)
            rt.events.milestone(ProgressPhase.STARTED, kind.value, operation_id=operation_id, tenant=slug, stack=None)
            try:
                summary = body(operation_id)
            except MigrationError as err:
                status = OperationStatus.ROLLED_BACK if err.rolled_back else OperationStatus.FAILED
                self.close(operation_id, kind, slug, actor, status, str(err))
                raise
            except PaybillError as err:
                self.close(operation_id, kind, slug, actor, OperationStatus.FAILED, str(err))
                raise OperationFailedError(operation_id, kind.value, slug, str(err)) from err
            rt.events.milestone(ProgressPhase.FINISHED, kind.value, operation_id=operation_id, tenant=slug, stack=None)
            audited = {k: summary[k] for k in AUDITED_SUMMARY if k in summary}
            return self.record(operation_id, f"{kind.value}.succeeded", slug, actor, audited, **summary)

    def close(
        self, operation_id: str, kind: OperationKind, slug: str, actor: str, status: OperationStatus, error: str
    ) -> None:
        self.rt.events.milestone(ProgressPhase.FAILED, error[:200], operation_id=operation_id, tenant=slug, stack=None)
        detail = {"error": error[:500]}
        self.record(operation_id, f"{kind.value}.{status.value}", slug, actor, detail, status=status, error=error)

    def record(
        self,
        operation_id: str,
        action: str,
        slug: str,
        actor: str,
        detail: dict[str, Any],
        *,
        status: OperationStatus = OperationStatus.SUCCEEDED,
        error: str | None = None,
        **summary: Any,
    ) -> OperationResult:
        """The terminal status and its audit record, in one transaction."""
        rt = self.rt
        with rt.registry.transaction() as session:
            result = rt.journal.close(session, operation_id, status, error=error, **summary)
            rt.registry.audit(
                session, actor=actor, action=action, tenant=slug, operation_id=operation_id, detail=detail
            )
        return result

    def refuse(self, err: PaybillError, actor: str, slug: str, action: str) -> NoReturn:
        self.audit(actor, f"{action}.rejected", slug, None, {"error": type(err).__name__, "reason": str(err)[:500]})
        raise err

    def audit(
        self, actor: str, action: str, tenant: str | None, operation_id: str | None, detail: dict[str, Any]
    ) -> None:
        with self.rt.registry.transaction() as session:
            self.rt.registry.audit(
                session, actor=actor, action=action, tenant=tenant, operation_id=operation_id, detail=detail
            )
