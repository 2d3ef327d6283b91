"""Hypothesis: generated schemas always give DDL PostgreSQL accepts, grants that never exceed the declaration,
and compiled statements the generated grants allow (the two enforcers agree).

Each example runs the bridge or pooled plan for one tenant inside one transaction on a scratch database and
rolls it back, so examples are independent and leave nothing behind.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent_acl import (
    AclPolicy,
    Agent,
    Assignment,
    Column,
    ColumnType,
    Condition,
    DataSchema,
    ForeignKey,
    Generated,
    Isolation,
    Names,
    Operation,
    Param,
    Reference,
    Sensitivity,
    Step,
    Table,
    Workflow,
    compile_agent,
    shared_plan,
    tenant_plan,
)
from agent_acl.ddl import MAINTENANCE_DB
from agent_acl.schema import _safe_identifier
from paybill_infra.local.server import AdminConnection
from tests.agent_acl.conftest import actual_privileges, expected_privileges

pytestmark = pytest.mark.postgres

SCRATCH = "hyp"
TENANT = "t1"
BINDABLE = [t for t in ColumnType if t not in (ColumnType.JSONB, ColumnType.BYTEA)]
SAMPLE: dict[ColumnType, Any] = {
    ColumnType.TEXT: "x'\"; --",
    ColumnType.SMALLINT: 1,
    ColumnType.INTEGER: 1,
    ColumnType.BIGINT: 1,
    ColumnType.BOOLEAN: True,
    ColumnType.NUMERIC: Decimal("1.5"),
    ColumnType.DOUBLE: 1.5,
    ColumnType.DATE: dt.date(2024, 1, 1),
    ColumnType.TIMESTAMPTZ: dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
    ColumnType.UUID: uuid.UUID(int=1),
}


def _safe(name: str) -> bool:
    try:
        _safe_identifier(name)
    except ValueError:
        return False
    return name not in ("id", "tenant_id") and not name.startswith("ref")


NAMES = st.from_regex(r"[a-z][a-z0-9]{0,7}(_[a-z0-9]{1,4})?", fullmatch=True).filter(_safe)
TEXT_DEFAULTS = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=8)


@st.composite
def columns(draw: st.DrawFn, name: str) -> Column:
    kind = draw(st.sampled_from(list(ColumnType)))
    default: Any = None
    generated = None
    choice = draw(st.integers(0, 3))
    if choice == 1:
        if kind is ColumnType.TEXT:
            default = draw(TEXT_DEFAULTS)
        elif kind is ColumnType.BOOLEAN:
            default = draw(st.booleans())
        elif kind in (ColumnType.SMALLINT, ColumnType.INTEGER, ColumnType.BIGINT, ColumnType.NUMERIC):
            default = draw(st.integers(-(2**15), 2**15 - 1))
    elif choice == 2:
        generated = {
            ColumnType.TIMESTAMPTZ: Generated.NOW,
            ColumnType.DATE: Generated.NOW,
            ColumnType.UUID: Generated.RANDOM_UUID,
        }.get(kind)
    return Column(
        name=name,
        type=kind,
        nullable=draw(st.booleans()),
        default=default,
        generated=generated,
        sensitivity=draw(st.sampled_from(list(Sensitivity))),
    )


@st.composite
def schemas(draw: st.DrawFn) -> DataSchema:
    tables: list[Table] = []
    for index in range(draw(st.integers(1, 3))):
        scoped = draw(st.booleans())
        cols = [
            Column(
                name="id",
                type=ColumnType.BIGINT,
                nullable=False,
                generated=Generated.IDENTITY,
                sensitivity=Sensitivity.PUBLIC,
            )
        ]
        if scoped:
            cols.append(Column(name="tenant_id", type=ColumnType.TEXT, nullable=False))
        for name in draw(st.lists(NAMES, min_size=1, max_size=5, unique=True)):
            cols.append(draw(columns(name)))
        fks: list[ForeignKey] = []
        if tables and draw(st.booleans()):
            target_index = draw(st.integers(0, len(tables) - 1))
            target = tables[target_index]
            if scoped or not target.tenant_scoped:
                ref = f"ref{target_index}"
                cols.append(Column(name=ref, type=ColumnType.BIGINT, nullable=True))
                if target.tenant_scoped:
                    fks.append(
                        ForeignKey(
                            name=f"to{target_index}",
                            columns=("tenant_id", ref),
                            references=Reference(table=target.name, columns=("tenant_id", "id")),
                        )
                    )
                else:
                    fks.append(
                        ForeignKey(
                            name=f"to{target_index}",
                            columns=(ref,),
                            references=Reference(table=target.name, columns=("id",)),
                        )
                    )
        tables.append(
            Table(
                name=f"tab{index}_{draw(NAMES)}",
                columns=tuple(cols),
                primary_key=("id",),
                foreign_keys=tuple(fks),
                tenant_scoped=scoped,
            )
        )
    return DataSchema(tables=tuple(tables))


def _visible(agent_clearance: Sensitivity, column: Column) -> bool:
    return column.sensitivity is not Sensitivity.SECRET and column.sensitivity.rank <= agent_clearance.rank


@st.composite
def policies(draw: st.DrawFn) -> AclPolicy:
    schema = draw(schemas())
    clearance = draw(
        st.sampled_from([Sensitivity.PUBLIC, Sensitivity.INTERNAL, Sensitivity.CONFIDENTIAL, Sensitivity.PII])
    )
    workflows: list[Workflow] = []
    for table in schema.tables:
        data_cols = [c for c in table.columns if c.name not in ("tenant_id",)]
        usable = [c for c in data_cols if c.type in BINDABLE and _visible(clearance, c) and c.name != "id"]
        shown = tuple(c.name for c in draw(st.lists(st.sampled_from(data_cols), min_size=1, max_size=4, unique=True)))
        where: tuple[Condition, ...] = ()
        params: tuple[Param, ...] = ()
        if usable and draw(st.booleans()):
            col = draw(st.sampled_from(usable))
            params = (Param(name="w", type=col.type),)
            where = (Condition(column=col.name, op=draw(st.sampled_from(["eq", "ne", "lt", "ge"])), param="w"),)
        steps = [
            Step(name="read", operation=Operation.SELECT, table=table.name, columns=shown, params=params, where=where)
        ]
        if table.tenant_scoped:
            by_id = (Condition(column="id", param="id"),)
            id_param = Param(name="id", type=ColumnType.BIGINT)
            steps.append(
                Step(name="remove", operation=Operation.DELETE, table=table.name, params=(id_param,), where=by_id)
            )
            if usable:
                col = draw(st.sampled_from(usable))
                steps.append(
                    Step(
                        name="change",
                        operation=Operation.UPDATE,
                        table=table.name,
                        columns=("id",),
                        params=(id_param, Param(name="v", type=col.type, nullable=True)),
                        where=by_id,
                        values=(Assignment(column=col.name, param="v"),),
                    )
                )
            required = [c for c in data_cols if not c.nullable and c.default is None and c.generated is None]
            if all(c in usable for c in required):
                steps.append(
                    Step(
                        name="add",
                        operation=Operation.INSERT,
                        table=table.name,
                        params=tuple(Param(name=f"v{i}", type=c.type) for i, c in enumerate(required)),
                        values=tuple(Assignment(column=c.name, param=f"v{i}") for i, c in enumerate(required))
                        or (Assignment(column="id", param="id"),),
                    )
                    if required
                    else Step(
                        name="add",
                        operation=Operation.INSERT,
                        table=table.name,
                        params=(id_param,),
                        values=(Assignment(column="id", param="id"),),
                    )
                )
        for step in steps:
            workflows.append(Workflow(name=f"{table.name}_{step.name}", steps=(step,)))
    agent = Agent(name="bot", workflows=tuple(w.name for w in workflows), clearance=clearance)
    return AclPolicy(name=SCRATCH, schema=schema, workflows=tuple(workflows), agents=(agent,))


@pytest.fixture(scope="module")
def scratch(pg_admin: AdminConnection) -> Iterator[AdminConnection]:
    with psycopg.connect(pg_admin.conninfo(MAINTENANCE_DB), autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS hyp WITH (FORCE)")
        conn.execute("CREATE DATABASE hyp")
    yield pg_admin
    with psycopg.connect(pg_admin.conninfo(MAINTENANCE_DB), autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS hyp WITH (FORCE)")


def _param_value(param: Param) -> Any:
    return SAMPLE[param.type]


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(policy=policies(), isolation=st.sampled_from([Isolation.BRIDGE, Isolation.POOLED]))
def test_generated_policies_apply_and_grant_exactly_the_declaration(
    scratch: AdminConnection, policy: AclPolicy, isolation: Isolation
) -> None:
    names = Names(policy.name)
    url = scratch.url(SCRATCH).replace("postgresql://", "postgresql+psycopg://", 1)
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            transaction = conn.begin()
            raw = conn.connection.driver_connection
            assert raw is not None
            batches = shared_plan(policy, isolation) + tenant_plan(policy, isolation, TENANT)
            for batch in batches:
                if batch.autocommit:
                    continue  # CREATE DATABASE: the scratch database stands in for it
                for statement in batch.statements:
                    raw.execute(statement)
                if batch.comment == "cluster roles":
                    raw.execute(
                        psycopg.sql.SQL("ALTER DATABASE hyp OWNER TO {o}").format(o=psycopg.sql.Identifier(names.owner))
                    )
                raw.execute("RESET ROLE")
            role = names.agent_role(TENANT, "bot")
            actual = actual_privileges(raw, role)
            assert actual == expected_privileges(policy, isolation, TENANT, "bot")
            for (_workflow, _step), compiled in compile_agent(
                policy, policy.agents[0], names.data_schema(isolation, TENANT)
            ).items():
                binds = {f"p_{p.name}": _param_value(p) for p in compiled.step.params}
                binds["acl_tenant"] = TENANT
                nested = conn.begin_nested()
                conn.execute(sa.select(sa.func.set_config("role", role, True)))
                sqlstate = ""
                try:
                    conn.execute(compiled.statement, binds)
                except sa.exc.DBAPIError as err:
                    sqlstate = str(getattr(err.orig, "sqlstate", ""))
                nested.rollback()
                # 42501 would mean the grants refuse a statement the compiler emits: the enforcers disagree.
                # Data errors (constraint, range) are expected with sample parameter values.
                assert sqlstate in ("", "23502", "23503", "23505", "22003", "22P02", "23514"), (
                    compiled.subject,
                    sqlstate,
                )
                conn.exec_driver_sql("RESET ROLE")
            transaction.rollback()
    finally:
        engine.dispose()
