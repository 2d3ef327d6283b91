"""agent_acl: one typed data schema -> SQLAlchemy models, PostgreSQL roles, GRANTs and RLS, and
workflow-bound agent access.

It depends on pydantic, SQLAlchemy 2 and psycopg 3 only (never on Pulumi or ``paybill_infra``), so a product
backend can use it alone. The pieces:

* :class:`DataSchema` / :class:`AclPolicy` (load with :func:`load_policy`): tables, columns, sensitivities,
  tenant scoping; workflows of declared steps; agents with clearances, budgets and approval rules.
* Derivations: :func:`build_metadata` (SQLAlchemy), :func:`migration` / :func:`shared_plan` /
  :func:`tenant_plan` and their teardowns (ordered psycopg statements per isolation model), :func:`render`.
* :func:`explain_access` (the table x column x operation matrix) and :func:`check_tenant_closure`.
* :class:`AgentSession` (the runtime), :class:`TenantContext`, :class:`ApprovalAuthority`, audit sinks, and
  the state shared between processes (:class:`PostgresState`, set up by :func:`create_state_tables`).
"""

from agent_acl.access import AccessEntry, AccessMatrix, MaskedColumn, Privilege, explain_access
from agent_acl.approvals import ApprovalAuthority
from agent_acl.audit import AuditRecord, AuditSink, Decision, MemoryAuditSink, TableAuditSink
from agent_acl.closure import check_statements, check_tenant_closure, statement_violations
from agent_acl.compiler import CompiledStep, compile_agent, compile_step
from agent_acl.ddl import (
    Batch,
    migration,
    render,
    shared_plan,
    shared_teardown,
    statements,
    teardown,
    tenant_plan,
    tenant_teardown,
)
from agent_acl.errors import (
    AccessDenied,
    AclError,
    ApprovalRequest,
    ApprovalRequired,
    BudgetExceeded,
    ClosureViolation,
    CompileError,
    ConfigError,
    DatabaseRefused,
    InvalidApproval,
    ParameterError,
    PlacementError,
    PolicyError,
    Problem,
    RowLimitExceeded,
    SchemaError,
    StepFailed,
    StepOrderError,
    StepTimeout,
    TenantClosureError,
    UnknownActionError,
)
from agent_acl.models import build_metadata
from agent_acl.naming import Isolation, Names
from agent_acl.policy import (
    AclPolicy,
    Agent,
    Approval,
    Assignment,
    Budgets,
    CompareOp,
    Condition,
    Join,
    Operation,
    Param,
    Step,
    Workflow,
    load_policy,
    parse_policy,
    parse_schema,
)
from agent_acl.roles import enable_login
from agent_acl.runtime import AgentSession, StepResult, TenantContext
from agent_acl.schema import (
    Column,
    ColumnType,
    DataSchema,
    ForeignKey,
    Generated,
    OnDelete,
    Reference,
    Sensitivity,
    Table,
)
from agent_acl.state import MemoryState, PostgresState, SharedState, create_state_tables

__all__ = [
    "AccessDenied",
    "AccessEntry",
    "AccessMatrix",
    "AclError",
    "AclPolicy",
    "Agent",
    "AgentSession",
    "Approval",
    "ApprovalAuthority",
    "ApprovalRequest",
    "ApprovalRequired",
    "Assignment",
    "AuditRecord",
    "AuditSink",
    "Batch",
    "BudgetExceeded",
    "Budgets",
    "ClosureViolation",
    "Column",
    "ColumnType",
    "CompareOp",
    "CompileError",
    "CompiledStep",
    "Condition",
    "ConfigError",
    "DataSchema",
    "DatabaseRefused",
    "Decision",
    "ForeignKey",
    "Generated",
    "InvalidApproval",
    "Isolation",
    "Join",
    "MaskedColumn",
    "MemoryAuditSink",
    "MemoryState",
    "Names",
    "OnDelete",
    "Operation",
    "Param",
    "ParameterError",
    "PlacementError",
    "PolicyError",
    "PostgresState",
    "Privilege",
    "Problem",
    "Reference",
    "RowLimitExceeded",
    "SchemaError",
    "Sensitivity",
    "SharedState",
    "Step",
    "StepFailed",
    "StepOrderError",
    "StepResult",
    "StepTimeout",
    "Table",
    "TableAuditSink",
    "TenantClosureError",
    "TenantContext",
    "UnknownActionError",
    "Workflow",
    "build_metadata",
    "check_statements",
    "check_tenant_closure",
    "compile_agent",
    "compile_step",
    "create_state_tables",
    "enable_login",
    "explain_access",
    "load_policy",
    "migration",
    "parse_policy",
    "parse_schema",
    "render",
    "shared_plan",
    "shared_teardown",
    "statement_violations",
    "statements",
    "teardown",
    "tenant_plan",
    "tenant_teardown",
]
