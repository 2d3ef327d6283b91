"""Pure parts of the control plane: billing state machine and webhooks, registry migrations, naming,
settings validation, batching. No engine."""

from __future__ import annotations

import itertools
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from pydantic import SecretStr, ValidationError

from paybill_infra.controlplane import WebhookVerifier, allows_provisioning, check_transition, migrations
from paybill_infra.controlplane.jobs import Batcher, Gate, Gathering
from paybill_infra.controlplane.models import StackChange
from paybill_infra.controlplane.placement import pool_stack, tenant_stack
from paybill_infra.controlplane.registry import AuditRow, Base, Registry, make_engine
from paybill_infra.controlplane.secrets import SecretsConfig
from paybill_infra.controlplane.stacks import RetryPolicy, RunOutcome, StackManager, tenant_role
from paybill_infra.engine import EngineSettings
from paybill_infra.errors import (
    ControlPlaneError,
    EngineError,
    IllegalSubscriptionTransitionError,
    WebhookSignatureError,
)
from paybill_infra.schema.enums import Cloud, Isolation
from paybill_infra.schema.enums import SubscriptionStatus as S
from paybill_infra.targets import TargetSettings, target_for


def test_subscription_state_machine() -> None:
    check_transition("t", S.TRIALING, S.ACTIVE)
    check_transition("t", S.PAST_DUE, S.SUSPENDED)
    check_transition("t", S.ACTIVE, S.ACTIVE)  # redelivery is a no-op
    for current, requested in ((S.CANCELED, S.ACTIVE), (S.ACTIVE, S.SUSPENDED), (S.SUSPENDED, S.PAST_DUE)):
        with pytest.raises(IllegalSubscriptionTransitionError):
            check_transition("t", current, requested)
    assert [s for s in S if allows_provisioning(s)] == [S.TRIALING, S.ACTIVE]


def test_webhook_signature_replay_and_tampering() -> None:
    verifier = WebhookVerifier(SecretStr("whsec_0123456789abcdef"))
    body = json.dumps(
        {"event_id": "evt_1", "tenant": "acme", "status": "past_due", "occurred_at": "2026-01-01T00:00:00Z"}
    ).encode()
    header = verifier.sign(body)
    assert verifier.parse(body, header).status is S.PAST_DUE
    with pytest.raises(WebhookSignatureError, match="does not match"):
        verifier.parse(body.replace(b"past_due", b"active"), header)
    with pytest.raises(WebhookSignatureError, match="replay"):
        verifier.parse(body, verifier.sign(body, at=verifier_time_minus(timedelta(hours=1))))
    with pytest.raises(WebhookSignatureError, match="timestamp"):
        verifier.parse(body, "v1=abc")
    with pytest.raises(WebhookSignatureError, match="at least 16"):
        WebhookVerifier(SecretStr("short"))


def verifier_time_minus(delta: timedelta) -> object:
    from paybill_infra.controlplane.registry import utcnow

    return utcnow() - delta


def test_migrations_match_the_models_and_audit_is_append_only(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'control.db'}")
    migrations.upgrade(engine)
    migrations.upgrade(engine)  # idempotent
    assert migrations.current(engine) == "0006"
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata) == []
    registry = Registry(engine)
    with registry.transaction() as session:
        registry.audit(session, actor="a", action="x")
    with registry.transaction() as session:
        row = session.get(AuditRow, 1)
        assert row is not None
        row.actor = "mallory"
        with pytest.raises(ControlPlaneError, match="append-only"):
            session.flush()
        session.rollback()


def test_names_are_deterministic_and_safe() -> None:
    local = target_for(Cloud.LOCAL, TargetSettings())
    assert pool_stack(local, "local", "starter", 3) == "pool-starter-003"
    assert tenant_stack(local, "local", "acme", Isolation.SILO) == "tenant-acme-silo"
    aws = target_for(Cloud.AWS, TargetSettings())
    assert pool_stack(aws, "eu-west-1", "starter", 3) == "aws-eu-west-1-pool-starter-003"
    assert tenant_role("acme", 0) == "r_acme" and tenant_role("acme", 2) == "r_acme__g2"
    long = "a" * 40
    assert len(tenant_role(long, 12)) <= 63 and tenant_role(long, 12) == tenant_role(long, 12)


def test_secrets_provider_is_validated() -> None:
    assert SecretsConfig().for_workspace() is None
    for url in (
        "awskms://alias/paybill",
        "azurekeyvault://v.vault.azure.net/keys/k",
        "gcpkms://projects/p/k",
        "hashivault://k",
    ):
        assert SecretsConfig(provider=url).for_workspace() == url
    with pytest.raises(ValidationError):
        SecretsConfig(provider="file:///tmp/key")


def test_batcher_serves_concurrent_callers_with_few_runs() -> None:
    batcher: Batcher[int] = Batcher()
    runs: list[int] = []

    def job() -> int:
        runs.append(1)
        time.sleep(0.05)
        return len(runs)

    results: list[int] = []
    threads = [threading.Thread(target=lambda: results.append(batcher.run(job))) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 12 and len(runs) < 12
    assert all(r >= 1 for r in results)


def test_a_gathering_runs_once_for_every_member_and_releases_past_members_that_never_arrive() -> None:
    gate, batcher = Gate(), Batcher[int]()
    runs: list[int] = []

    def job() -> int:
        runs.append(1)
        return len(runs)

    def member(gathering: Gathering, refused: bool) -> int | None:
        with gate.enlist(gathering):
            if refused:  # refused before reaching a stack: finishes without arriving
                return None
            ticket = batcher.ticket()
            gate.pass_()
            return batcher.run(job, ticket)

    with ThreadPoolExecutor(6) as pool, gate.gather(6) as gathering:
        futures = [pool.submit(member, gathering, i == 2) for i in range(6)]
    assert [f.result() for f in futures] == [1, 1, None, 1, 1, 1]
    assert runs == [1]
    gate.pass_()  # outside a gathering: never held


def test_engine_runs_retry_transient_failures_with_backoff_and_give_up_on_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The retry policy around one engine run (tenacity): transient failures are retried with growing waits and
    counted, a permanent one is raised at once, and the last transient one once the attempts run out."""
    engine = EngineSettings(root=tmp_path, backend_url=(tmp_path / "state").as_uri(), pulumi_bin=tmp_path)
    policy = RetryPolicy(attempts=3, base_delay_s=0.05, max_delay_s=0.08)
    manager = StackManager(engine, state_dir=tmp_path, retry=policy)
    busy = EngineError("tenant-x", "up", "failed", "provisioning busy (retryable)")
    broken = EngineError("tenant-x", "up", "failed", "syntax error in program")
    script: list[EngineError | None] = []
    calls: list[float] = []

    def run_once(*_args: object) -> RunOutcome:
        calls.append(time.monotonic())
        failure = script.pop(0)
        if failure is not None:
            raise failure
        return RunOutcome(change=StackChange(stack="tenant-x", operation="up", changes={}))

    monkeypatch.setattr(manager, "_run_once", run_once)
    script[:] = [busy, busy, None]
    assert manager.run("tenant-x", "up", lambda: None).attempts == 3
    waits = [b - a for a, b in itertools.pairwise(calls)]
    assert 0.05 <= waits[0] < waits[1] + 0.02 and waits[1] >= 0.08

    calls.clear()
    script[:] = [broken, None]
    with pytest.raises(EngineError, match="syntax error"):
        manager.run("tenant-x", "up", lambda: None)
    assert len(calls) == 1

    calls.clear()
    script[:] = [busy, busy, busy, None]
    with pytest.raises(EngineError, match="provisioning busy"):
        manager.run("tenant-x", "up", lambda: None)
    assert len(calls) == 3
