"""``AgentSession``: run declared workflow steps for one agent and one tenant, and nothing else.

``session.run(workflow, step, params)``:

1. refuses unknown or unallowed workflows and steps, and steps out of order (a run starts at step one);
2. enforces the agent's call-rate (in a :class:`~agent_acl.state.SharedState`) and row budgets;
3. validates the parameters against the step's typed declaration (values are never echoed in errors);
4. requires a single-use approval token for actions that need one;
5. in one transaction, pipelined on one pooled connection in ONE round trip: ``[BEGIN, set_config('role',
   <agent role>), statement_timeout and cached plans, the compiled statement with the tenant bound from the
   trusted context and the row guard around it, RESET ROLE, the audit record, COMMIT]``. The row limit and the
   session's row budget are checked by PostgreSQL inside the statement (:mod:`agent_acl.guard`): more rows
   raise there, so the queued ``COMMIT`` only rolls back and the refusal is then audited on its own. The first
   call of a session adds one round trip for the placement check (database, role, schema, no elevated role
   attributes, and the row guard, which a database provisioned before it lacks); a step with ``max_cost`` adds
   one for its ``EXPLAIN``;
6. a denial raises a typed :class:`~agent_acl.errors.AccessDenied`; any failure rolls back the whole step, and
   the connection goes back to the pool only with the role reset (:func:`agent_acl.driver.pipelined`).

The role-switch parameters, the guarded driver SQL of every step and the audit INSERT are built when the
session (or the sink) is, so a call only binds values; psycopg prepares them server-side after a few calls.
Every compiled statement of the agent passes the tenant-closure check when the session is built, so a session
that exists can only emit statements proven to carry the tenant predicate.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, NoReturn
from uuid import UUID

import psycopg
import sqlalchemy as sa
from psycopg import sql
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    StrictBool,
    StrictBytes,
    StrictFloat,
    StrictInt,
    ValidationError,
    create_model,
)

from agent_acl.approvals import ApprovalAuthority
from agent_acl.audit import AuditRecord, AuditSink, Decision, MemoryAuditSink
from agent_acl.closure import check_statements
from agent_acl.compiler import CompiledStep, compile_agent
from agent_acl.driver import BEGIN, COMMIT, RESET_ROLE, DriverStatement, pipelined, require_psycopg
from agent_acl.errors import (
    AccessDenied,
    ApprovalRequest,
    ApprovalRequired,
    BudgetExceeded,
    DatabaseRefused,
    ParameterError,
    PlacementError,
    RowLimitExceeded,
    StepFailed,
    StepOrderError,
    StepTimeout,
    UnknownActionError,
)
from agent_acl.guard import ROWS_LEFT_BIND, guarded
from agent_acl.naming import (
    ROW_BUDGET_SQLSTATE,
    ROW_COUNT_SETTING,
    ROW_GUARD_FN,
    ROW_LIMIT_SQLSTATE,
    TENANT_BIND,
    Isolation,
    Names,
    TenantId,
)
from agent_acl.policy import AclPolicy, Agent, Param, Step
from agent_acl.schema import ColumnType
from agent_acl.state import MemoryState, SharedState

RATE_WINDOW_S = 60.0
ROLE_SQL = (
    b"SELECT set_config('role', %s, true), set_config('statement_timeout', %s, true),"
    b" set_config('plan_cache_mode', 'force_generic_plan', true),"
    b" set_config('" + ROW_COUNT_SETTING.encode() + b"', '0', true)"
)
"""The transaction's role, timeout and row count, and cached plans: a step's statement is the same every call
(only its values change) and its tenant filter is an InitPlan whose value no plan can know, so a plan per call
(what PostgreSQL's default chooses here) only repeats the planning, the policy's sub-select included."""
PLACEMENT_SQL = (
    b"SELECT current_database(), current_user,"
    b" (SELECT count(*) FROM pg_catalog.pg_namespace WHERE nspname = %s),"
    b" (SELECT bool_or(rolsuper OR rolbypassrls) FROM pg_catalog.pg_roles WHERE rolname = %s),"
    b" pg_catalog.to_regprocedure(%s) IS NOT NULL"
)


class TenantContext(BaseModel):
    """The trusted request context, built by the backend from its own authentication, never by the agent."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tenant: TenantId
    isolation: Isolation
    actor: Annotated[str, Field(max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$")] = ""


@dataclass(frozen=True)
class StepResult:
    workflow: str
    step: str
    rows: tuple[dict[str, Any], ...]
    row_count: int
    masked: tuple[str, ...]
    sql_hash: str


_TEXT_SAFE = r"^[^\x00]*$"


def _param_annotation(param: Param) -> Any:
    base: Any
    t = param.type
    if t is ColumnType.TEXT:
        base = Annotated[str, Field(strict=True, max_length=param.max_length, pattern=_TEXT_SAFE)]
    elif t is ColumnType.SMALLINT:
        base = Annotated[StrictInt, Field(ge=-(2**15), lt=2**15)]
    elif t is ColumnType.INTEGER:
        base = Annotated[StrictInt, Field(ge=-(2**31), lt=2**31)]
    elif t is ColumnType.BIGINT:
        base = Annotated[StrictInt, Field(ge=-(2**63), lt=2**63)]
    elif t is ColumnType.BOOLEAN:
        base = StrictBool
    elif t is ColumnType.NUMERIC:
        base = Annotated[Decimal, Field(allow_inf_nan=False)]
    elif t is ColumnType.DOUBLE:
        base = Annotated[StrictFloat | StrictInt, Field(allow_inf_nan=False)]
    elif t is ColumnType.DATE:
        base = date
    elif t is ColumnType.TIMESTAMPTZ:
        base = AwareDatetime
    elif t is ColumnType.UUID:
        base = UUID
    elif t is ColumnType.JSONB:
        base = JsonValue
    elif t is ColumnType.BYTEA:
        base = Annotated[StrictBytes, Field(max_length=param.max_length)]
    else:  # pragma: no cover - closed enum
        raise TypeError(t)
    return (base | None, None) if param.nullable else (base, ...)


def param_model(workflow: str, step: Step) -> type[BaseModel]:
    """A pydantic model validating exactly the step's parameters (no extras, no missing ones)."""
    fields: dict[str, Any] = {p.name: _param_annotation(p) for p in step.params}
    model: type[BaseModel] = create_model(
        f"Params_{workflow}_{step.name}",
        __config__=ConfigDict(extra="forbid", frozen=True),
        **fields,
    )
    return model


class AgentSession:
    """One agent acting for one tenant. Not thread-safe per instance; create one per conversation/job.

    ``engine`` must use the psycopg driver (the calls are pipelined). ``state`` keeps the agent's call-rate
    window, keyed by policy, tenant and agent: by default this session's own memory; sessions given one
    :class:`~agent_acl.state.PostgresState` share one budget across processes, at one more round trip a call.
    """

    def __init__(
        self,
        engine: sa.Engine,
        tenant_context: TenantContext,
        agent: Agent | str,
        *,
        policy: AclPolicy,
        audit: AuditSink | None = None,
        approvals: ApprovalAuthority | None = None,
        audit_key: bytes | None = None,
        clock: Callable[[], float] = time.time,
        state: SharedState | None = None,
    ) -> None:
        require_psycopg(engine, "AgentSession")
        self.policy = policy
        self.agent = policy.agent(agent) if isinstance(agent, str) else agent
        if self.agent not in policy.agents:
            raise PlacementError(tenant_context.tenant, f"agent '{self.agent.name}' is not declared in the policy")
        self.context = tenant_context
        self._engine = engine
        self._names = Names(policy.name)
        self._schema = self._names.data_schema(tenant_context.isolation, tenant_context.tenant)
        self.role = self._names.agent_role(tenant_context.tenant, self.agent.name)
        self._database = self._names.database(tenant_context.isolation, tenant_context.tenant)
        self._audit: AuditSink = audit if audit is not None else MemoryAuditSink()
        self._approvals = approvals
        self._audit_key = audit_key
        self._clock = clock
        self._compiled: dict[tuple[str, str], CompiledStep] = compile_agent(policy, self.agent, self._schema)
        check_statements((c.subject, c.statement) for c in self._compiled.values())
        self._models = {key: param_model(key[0], compiled.step) for key, compiled in self._compiled.items()}
        control = self._names.control_schema
        self._guard = sql.Identifier(control, ROW_GUARD_FN).as_string(None) + "(bigint, bigint, bigint)"
        self._driver = {
            key: DriverStatement.compile(guarded(compiled, control), engine.dialect)
            for key, compiled in self._compiled.items()
        }
        self._role_params = {
            key: (self.role, f"{self._timeout_ms(compiled.step)}ms") for key, compiled in self._compiled.items()
        }
        self._state: SharedState = state if state is not None else MemoryState()
        self._rate_key = f"{policy.name}:{tenant_context.tenant}:{self.agent.name}"
        self._next: dict[str, int] = {}
        self._rows_used = 0
        self._placement_checked = False
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"AgentSession(agent={self.agent.name!r}, tenant={self.context.tenant!r}, role={self.role!r})"

    @property
    def rows_used(self) -> int:
        return self._rows_used

    def compiled(self, workflow: str, step: str) -> CompiledStep:
        return self._compiled[(workflow, step)]

    # -- the one entry point -------------------------------------------------------------------------------

    def run(
        self, workflow: str, step: str, params: Mapping[str, Any] | None = None, *, approval: str | None = None
    ) -> StepResult:
        with self._lock:
            return self._run(workflow, step, dict(params or {}), approval)

    def _run(self, workflow: str, step_name: str, params: dict[str, Any], approval: str | None) -> StepResult:
        agent, tenant = self.agent.name, self.context.tenant
        compiled = self._compiled.get((workflow, step_name))
        if compiled is None:
            self._deny(
                UnknownActionError(
                    agent, tenant, workflow, step_name, "unknown_action", "not a step of a workflow this agent may run"
                ),
                "",
                "",
            )
        step = compiled.step
        index = self.policy.workflow(workflow).index(step_name)
        self._charge_call(workflow, step_name, compiled.sql_hash)
        expected = self._next.get(workflow, 0)
        if index not in (0, expected):
            self._deny(
                StepOrderError(
                    agent,
                    tenant,
                    workflow,
                    step_name,
                    "step_order",
                    f"expected step #{expected + 1} of the workflow, got #{index + 1}",
                ),
                compiled.sql_hash,
                "",
            )
        try:
            validated = self._models[(workflow, step_name)].model_validate(params)
        except ValidationError as err:
            detail = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or '<params>'}: {e['type']}"
                for e in err.errors(include_input=False)
            )
            self._deny(
                ParameterError(agent, tenant, workflow, step_name, "invalid_parameters", detail), compiled.sql_hash, ""
            )
        values = validated.model_dump()
        digest = self._digest(validated.model_dump(mode="json"))
        if self.agent.needs_approval(workflow, step):
            self._check_approval(workflow, step, compiled, digest, approval)
        if self._rows_used >= self.agent.budgets.rows_per_session:
            self._deny(
                BudgetExceeded(
                    agent,
                    tenant,
                    workflow,
                    step_name,
                    "row_budget",
                    f"the session used its {self.agent.budgets.rows_per_session} rows",
                ),
                compiled.sql_hash,
                digest,
            )
        result = self._execute(workflow, compiled, values, digest)
        self._next[workflow] = index + 1
        if index + 1 >= len(self.policy.workflow(workflow).steps):
            self._next.pop(workflow, None)
        return result

    # -- checks ------------------------------------------------------------------------------------------

    def _charge_call(self, workflow: str, step: str, sql_hash: str) -> None:
        if not self._state.charge_call(
            self._rate_key, self._clock(), self.agent.budgets.calls_per_minute, RATE_WINDOW_S
        ):
            self._deny(
                BudgetExceeded(
                    self.agent.name,
                    self.context.tenant,
                    workflow,
                    step,
                    "rate_limit",
                    f"more than {self.agent.budgets.calls_per_minute} calls per minute",
                ),
                sql_hash,
                "",
            )

    def _check_approval(
        self, workflow: str, step: Step, compiled: CompiledStep, digest: str, approval: str | None
    ) -> None:
        request = ApprovalRequest(
            agent=self.agent.name,
            tenant=self.context.tenant,
            workflow=workflow,
            step=step.name,
            params_digest=digest,
            sql_hash=compiled.sql_hash,
            reasons=tuple(
                r
                for r in (
                    f"operation {step.operation.value}" if step.operation in self.agent.approval.operations else "",
                    "step listed" if f"{workflow}.{step.name}" in self.agent.approval.steps else "",
                )
                if r
            ),
        )
        if approval is None or self._approvals is None:
            error = ApprovalRequired(
                self.agent.name,
                self.context.tenant,
                workflow,
                step.name,
                "approval_required",
                "this action needs a human approval token",
                request,
            )
            self._deny(error, compiled.sql_hash, digest)
        try:
            self._approvals.consume(approval, request)
        except AccessDenied as err:
            self._deny(err, compiled.sql_hash, digest)

    def _digest(self, values: Any) -> str:
        canonical = json.dumps(values, sort_keys=True, separators=(",", ":"), default=str).encode()
        if self._audit_key is not None:
            return "hmac-sha256:" + hmac.new(self._audit_key, canonical, hashlib.sha256).hexdigest()
        return "sha256:" + hashlib.sha256(canonical).hexdigest()

    # -- execution ---------------------------------------------------------------------------------------

    def _timeout_ms(self, step: Step) -> int:
        budget = self.agent.budgets.statement_timeout_ms
        return min(step.timeout_ms, budget) if step.timeout_ms is not None else budget

    def _check_placement(self, row: tuple[Any, ...] | None) -> None:
        if row is None:
            raise PlacementError(self.context.tenant, "the placement check returned nothing")
        database, user, schemas, elevated, guard = row
        if database != self._database:
            raise PlacementError(
                self.context.tenant, f"connected to database '{database}', expected '{self._database}'"
            )
        if user != self.role or not schemas:
            raise PlacementError(self.context.tenant, f"role '{self.role}' or schema '{self._schema}' is missing")
        if elevated:
            raise PlacementError(self.context.tenant, f"role '{self.role}' is a superuser or bypasses RLS; refusing")
        if not guard:
            raise PlacementError(
                self.context.tenant, f"the row guard {self._guard} is missing: apply the provisioning plan again"
            )
        self._placement_checked = True

    def _execute(self, workflow: str, compiled: CompiledStep, values: dict[str, Any], digest: str) -> StepResult:
        step = compiled.step
        key = (workflow, step.name)
        driver = self._driver[key]
        binds = {f"p_{k}": v for k, v in values.items()}
        binds[TENANT_BIND] = self.context.tenant
        binds[ROWS_LEFT_BIND] = self.agent.budgets.rows_per_session - self._rows_used
        params = driver.params(binds)
        record = self._record(workflow, compiled, digest, 0, Decision.ALLOWED, "ok")
        try:
            with pipelined(self._engine) as (conn, pipeline):
                control = conn.cursor()
                control.execute(BEGIN)
                control.execute(ROLE_SQL, self._role_params[key])
                if not self._placement_checked:
                    control.execute(PLACEMENT_SQL, (self._schema, self.role, self._guard))
                    pipeline.sync()
                    self._check_placement(control.fetchone())
                if step.max_cost is not None:
                    control.execute(b"EXPLAIN (FORMAT JSON) " + driver.sql, params)
                    pipeline.sync()
                    self._check_cost(control.fetchone(), workflow, compiled)
                cursor = conn.cursor()
                cursor.execute(driver.sql, params)
                control.execute(RESET_ROLE)
                self._audit.queue(record, conn)
                control.execute(COMMIT)  # the one round trip is the Sync of the pipeline's exit
        except AccessDenied as err:
            self._deny(err, compiled.sql_hash, digest)
        except psycopg.Error as err:
            self._deny(self._map_db_error(err, workflow, step), compiled.sql_hash, digest)
        fetched = cursor.fetchall()
        if compiled.returns_rows:
            columns = [column.name for column in cursor.description or ()][:-1]
            rows = tuple(dict(zip(columns, row, strict=False)) for row in fetched)
            count = len(rows)
        else:
            rows, count = (), int(fetched[0][-1])
        self._rows_used += count
        self._audit.committed(replace(record, row_count=count))
        return StepResult(workflow, step.name, rows, count, compiled.masked, compiled.sql_hash)

    def _check_cost(self, row: tuple[Any, ...] | None, workflow: str, compiled: CompiledStep) -> None:
        step = compiled.step
        cost = float(row[0][0]["Plan"]["Total Cost"]) if row is not None else float("inf")
        if step.max_cost is not None and cost > step.max_cost:
            raise BudgetExceeded(
                self.agent.name,
                self.context.tenant,
                workflow,
                step.name,
                "cost",
                f"planner cost {cost:.0f} exceeds {step.max_cost:.0f}",
            )

    def _map_db_error(self, err: psycopg.Error, workflow: str, step: Step) -> AccessDenied:
        sqlstate = err.sqlstate or ""
        agent, tenant = self.agent.name, self.context.tenant
        if sqlstate == ROW_LIMIT_SQLSTATE:
            return RowLimitExceeded(
                agent, tenant, workflow, step.name, "row_limit", f"more than {step.row_limit} rows; rolled back"
            )
        if sqlstate == ROW_BUDGET_SQLSTATE:
            return BudgetExceeded(
                agent,
                tenant,
                workflow,
                step.name,
                "row_budget",
                f"would exceed {self.agent.budgets.rows_per_session} rows per session; rolled back",
            )
        if sqlstate == "57014":
            return StepTimeout(
                agent,
                tenant,
                workflow,
                step.name,
                "statement_timeout",
                f"cancelled after {self._timeout_ms(step)} ms; rolled back",
            )
        if sqlstate == "42501":
            return DatabaseRefused(
                agent,
                tenant,
                workflow,
                step.name,
                "database_refused",
                "PostgreSQL refused the privilege or row-level policy; rolled back",
            )
        return StepFailed(
            agent, tenant, workflow, step.name, "step_failed", f"SQLSTATE {sqlstate or '?'}; rolled back", sqlstate
        )

    # -- audit -------------------------------------------------------------------------------------------

    def _record(
        self, workflow: str, compiled: CompiledStep | None, digest: str, count: int, decision: Decision, reason: str
    ) -> AuditRecord:
        return AuditRecord(
            at=datetime.now(UTC),
            agent=self.agent.name,
            tenant=self.context.tenant,
            workflow=workflow,
            step=compiled.step.name if compiled else "",
            sql_hash=compiled.sql_hash if compiled else "",
            params_digest=digest,
            row_count=count,
            decision=decision,
            reason=reason,
        )

    def _deny(self, error: AccessDenied, sql_hash: str, digest: str) -> NoReturn:
        decision = Decision.FAILED if isinstance(error, StepFailed) else Decision.DENIED
        record = AuditRecord(
            at=datetime.now(UTC),
            agent=self.agent.name,
            tenant=self.context.tenant,
            workflow=error.workflow,
            step=error.step,
            sql_hash=sql_hash,
            params_digest=digest,
            row_count=0,
            decision=decision,
            reason=error.reason,
        )
        self._audit.write(record)
        raise error
