"""Authorization (tenant admin A against tenant B; forged and expired credentials) and signed billing
webhooks (bad signature, replay, and the subscription state machine driving suspend and resume)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pydantic import SecretStr

from paybill_infra.controlplane import ControlPlane, WebhookVerifier
from paybill_infra.service import Role
from tests.service.conftest import JWT_SECRET, WEBHOOK_SECRET, Service

pytestmark = [pytest.mark.engine, pytest.mark.postgres]
SIGNER = WebhookVerifier(SecretStr(WEBHOOK_SECRET))


@pytest.fixture(scope="module")
def tenants(service: Service) -> dict[str, str]:
    """Tenants ``alpha`` and ``bravo`` (active); returns each one's onboarding operation id."""
    with service.platform() as http:
        ops = {
            slug: http.post("/tenants", json={"slug": slug, "display_name": slug.title(), "plan": "starter"}).json()[
                "id"
            ]
            for slug in ("alpha", "bravo")
        }
    for operation in ops.values():
        assert service.wait(operation)["status"] == "succeeded"
    return ops


def test_the_platform_pages_through_tenants_with_a_cursor(service: Service, tenants: dict[str, str]) -> None:
    with service.platform() as http:
        first = http.get("/tenants", params={"limit": 1, "plan": "starter"})
        assert first.status_code == 200
        assert [t["slug"] for t in first.json()] == ["alpha"]
        assert first.headers["X-Next-Cursor"] == "alpha"
        rest = http.get("/tenants", params={"limit": 100, "plan": "starter", "cursor": "alpha"})
        assert "bravo" in [t["slug"] for t in rest.json()]
        assert "alpha" not in [t["slug"] for t in rest.json()]
        assert "X-Next-Cursor" not in rest.headers
        bad = http.get("/tenants", params={"limit": 0})
        assert bad.status_code == 422
        assert "limit" in bad.text


def webhook(service: Service, event: dict[str, object], *, at: datetime | None = None) -> httpx.Response:
    body = json.dumps(event).encode()
    with service.client() as http:
        return http.post(
            "/billing/webhook",
            content=body,
            headers={"Paybill-Signature": SIGNER.sign(body, at=at), "Content-Type": "application/json"},
        )


def event(event_id: str, tenant: str, status: str, **extra: object) -> dict[str, object]:
    now = datetime.now(UTC).isoformat()
    return {"event_id": event_id, "tenant": tenant, "status": status, "occurred_at": now, **extra}


def test_tenant_admin_sees_only_its_own_tenant(service: Service, tenants: dict[str, str]) -> None:
    for credential in (service.tenant_key("alpha"), service.token(Role.TENANT_ADMIN, tenant="alpha")):
        with service.client(credential) as http:
            assert http.get("/tenants/alpha").json()["slug"] == "alpha"
            assert [t["slug"] for t in http.get("/tenants").json()] == ["alpha"]
            assert http.get(f"/operations/{tenants['alpha']}").status_code == 200

            assert http.get("/tenants/bravo").status_code == 404
            assert http.patch("/tenants/bravo/plan", json={"plan": "team"}).status_code == 404
            assert http.post("/tenants/bravo/suspend").status_code == 404
            assert http.post("/tenants/bravo/resume").status_code == 404
            assert http.delete("/tenants/bravo").status_code == 404
            assert http.get(f"/operations/{tenants['bravo']}").status_code == 404
            assert http.get(f"/operations/{tenants['bravo']}/events").status_code == 404
            assert http.get("/operations", params={"tenant": "bravo"}).status_code == 404
            assert all(o["tenant"] == "alpha" for o in http.get("/operations").json())

            onboard = http.post("/tenants", json={"slug": "charlie", "display_name": "C", "plan": "starter"})
            assert onboard.status_code == 403
            assert http.get("/ops/summary").status_code == 403
            assert http.post("/ops/drift").status_code == 403


def test_forged_expired_and_missing_credentials_are_401(service: Service, tenants: dict[str, str]) -> None:
    forged = service.token(Role.PLATFORM_ADMIN, secret="not-the-server-secret-0123456789")
    expired = service.token(Role.PLATFORM_ADMIN, now=datetime.now(UTC) - timedelta(hours=2), ttl=timedelta(hours=1))
    key_id = service.platform_key.split("_")[1]
    for credential in (forged, expired, f"pbk_{key_id}_wrong-secret", "pbk_nope", "garbage", None):
        with service.client(credential) as http:
            response = http.get("/tenants")
            assert response.status_code == 401, credential
            assert response.headers["content-type"] == "application/problem+json"
            assert response.headers["www-authenticate"] == "Bearer"
            assert "wrong-secret" not in response.text and JWT_SECRET not in response.text


def test_tenant_admin_cannot_raise_its_plan_past_billing(service: Service, tenants: dict[str, str]) -> None:
    with service.client(service.tenant_key("alpha")) as http:
        refused = http.patch("/tenants/alpha/plan", json={"plan": "team"})
        assert refused.status_code == 403
        assert refused.json()["errors"][0]["field"] == "plan"
        # billing reports that alpha now pays for "team": the same request is accepted and runs
        assert webhook(service, event("evt-alpha-team", "alpha", "active", plan="team")).status_code == 200
        accepted = http.patch("/tenants/alpha/plan", json={"plan": "team"})
        assert accepted.status_code == 202, accepted.text
        assert service.wait(accepted.json()["id"])["status"] == "succeeded"
        assert http.get("/tenants/alpha").json()["plan"] == "team"
        assert http.patch("/tenants/alpha/plan", json={"plan": "enterprise"}).status_code == 403


def test_webhook_signature_and_replay(service: Service, tenants: dict[str, str]) -> None:
    body = json.dumps(event("evt-bravo-1", "bravo", "active")).encode()
    with service.client() as http:
        forged = http.post("/billing/webhook", content=body, headers={"Paybill-Signature": f"t=1,v1={'0' * 64}"})
        assert forged.status_code == 401
        assert forged.json()["errors"][0]["field"] == "Paybill-Signature"
        assert http.post("/billing/webhook", content=body).status_code == 401
    stale = webhook(service, event("evt-bravo-0", "bravo", "active"), at=datetime.now(UTC) - timedelta(hours=1))
    assert stale.status_code == 401

    signature = SIGNER.sign(body)
    with service.client() as http:
        first = http.post("/billing/webhook", content=body, headers={"Paybill-Signature": signature})
        assert first.status_code == 200, first.text
        assert first.json()["subscription"]["status"] == "active" and first.json()["operation"] is None
        replay = http.post("/billing/webhook", content=body, headers={"Paybill-Signature": signature})
        assert replay.status_code == 409
        assert replay.json()["errors"][0]["field"] == "event_id"

    illegal = webhook(service, event("evt-bravo-2", "bravo", "trialing"))
    assert illegal.status_code == 409 and illegal.json()["errors"][0]["field"] == "status"


def test_billing_drives_suspend_and_resume(service: Service, tenants: dict[str, str]) -> None:
    assert webhook(service, event("evt-bravo-pd", "bravo", "past_due")).status_code == 200
    suspended = webhook(service, event("evt-bravo-susp", "bravo", "suspended")).json()
    assert suspended["operation"]["kind"] == "suspend" and suspended["operation"]["actor"] == "billing"
    assert service.wait(suspended["operation"]["id"])["status"] == "succeeded"
    with service.platform() as http:
        assert http.get("/tenants/bravo").json()["state"] == "suspended"
        refused = http.post("/tenants/bravo/resume")  # the control plane's billing gate, checked at once
        assert refused.status_code == 409 and refused.json()["errors"][0]["field"] == "subscription", refused.text
    resumed = webhook(service, event("evt-bravo-paid", "bravo", "active")).json()
    assert resumed["operation"]["kind"] == "resume"
    assert service.wait(resumed["operation"]["id"])["status"] == "succeeded"
    with service.platform() as http:
        assert http.get("/tenants/bravo").json()["state"] == "active"


def test_keys_are_stored_hashed_and_secrets_stay_out_of_logs_and_audit(
    service: Service, tenants: dict[str, str]
) -> None:
    key = service.tenant_key("alpha")
    key_id, secret = key.removeprefix("pbk_").split("_", 1)
    rows = service.query("SELECT digest FROM svc_api_keys WHERE id = %s", key_id)
    assert rows == [(hashlib.sha256(secret.encode()).hexdigest(),)]
    stored = json.dumps(service.query("SELECT * FROM svc_api_keys"), default=str)
    assert secret not in stored

    with service.client(key) as http:
        assert http.get("/tenants/alpha").status_code == 200
    token = service.token(Role.PLATFORM_ADMIN)
    with service.client(token) as http:
        assert http.get("/tenants").status_code == 200
    secrets = (secret, service.platform_key, token, JWT_SECRET, WEBHOOK_SECRET)
    logs = service.logs_tail() + "".join(service.log(n) for n in ("api", *service.workers))
    with ControlPlane(service.settings.control_plane(), recover=False) as plane:
        audit = json.dumps([entry.model_dump(mode="json") for entry in plane.audit_log()])
    operations = json.dumps(service.query("SELECT request, summary, error FROM operations"), default=str)
    for value in secrets:
        assert value not in logs and value not in audit and value not in operations
