"""HTTP basics on the live server: body limits and media types as statuses a client can act on, offline
API docs, and the ops console's session cookie (attributes, CSRF, logout, revocation)."""

from __future__ import annotations

import re

import httpx
import pytest

from paybill_infra.service import Role, create_api_key
from paybill_infra.service.sessions import COOKIE, CSRF_HEADER
from tests.service.conftest import Service

pytestmark = [pytest.mark.engine, pytest.mark.postgres]
ONBOARD = {"slug": "sizer", "display_name": "S", "plan": "starter"}


def test_oversized_body_is_413_without_being_read(service: Service) -> None:
    limit = service.settings.max_body_bytes
    with service.platform() as http:
        declared = http.post("/tenants", content=b"x" * (limit + 1), headers={"content-type": "application/json"})
        assert declared.status_code == 413, declared.text
        assert declared.headers["content-type"] == "application/problem+json"
        assert declared.json()["errors"][0]["field"] == "body"

        def chunks() -> object:
            for _ in range(64):
                yield b" " * (limit // 16)

        streamed = http.post("/tenants", content=chunks(), headers={"content-type": "application/json"})
        assert streamed.status_code == 413
        assert http.get("/healthz").status_code == 200


def test_malformed_json_is_400_and_wrong_media_type_is_415(service: Service) -> None:
    with service.platform() as http:
        broken = http.post("/tenants", content=b'{"slug": "acme",', headers={"content-type": "application/json"})
        assert broken.status_code == 400, broken.text
        assert broken.json()["errors"] == [{"field": "body", "message": broken.json()["detail"]}]
        assert "not valid JSON" in broken.json()["detail"]

        text = http.post("/tenants", content=b"slug=acme", headers={"content-type": "text/plain"})
        assert text.status_code == 415, text.text
        assert text.json()["errors"][0]["field"] == "content-type"
        patched = http.patch("/tenants/acme/plan", content=b"plan=team", headers={"content-type": "text/plain"})
        assert patched.status_code == 415


def test_docs_are_served_without_a_cdn(service: Service) -> None:
    with service.client() as http:
        for page in ("/docs", "/redoc"):
            html = http.get(page).text
            assert "cdn" not in html.lower() and "unpkg" not in html
            for asset in re.findall(r"""(?:src|href)=["'](/[^"']+\.(?:js|css))""", html):
                served = http.get(asset)
                assert served.status_code == 200 and len(served.content) > 10_000, asset


def _login(http: httpx.Client, key: str, **headers: str) -> httpx.Response:
    return http.post("/ops/login", data={"api_key": key}, headers=headers, follow_redirects=False)


def test_console_session_cookie_csrf_logout_and_revocation(service: Service) -> None:
    with service.client() as http:
        assert http.get("/ops", follow_redirects=False).headers["location"] == "/ops/login"
        assert _login(http, "pbk_nope_nope").status_code == 401

        key = create_api_key(service.store, "console", Role.PLATFORM_ADMIN).get_secret_value()
        signed_in = _login(http, key)
        assert signed_in.status_code == 303 and signed_in.headers["location"] == "/ops"
        cookie = signed_in.headers["set-cookie"]
        assert cookie.startswith(f"{COOKIE}=")
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Max-Age=900" in cookie
        assert "Secure" not in cookie
        over_tls = _login(httpx.Client(base_url=service.url), key, **{"X-Forwarded-Proto": "https"})
        assert "Secure" in over_tls.headers["set-cookie"]

        page = http.get("/ops")
        assert page.status_code == 200 and "Content-Security-Policy" in page.headers
        csrf = re.search(r"name='csrf-token' content='([^']+)'", page.text)
        assert csrf is not None
        assert http.get("/tenants").status_code == 200
        forged = http.post("/ops/drift")
        assert forged.status_code == 403 and forged.json()["errors"][0]["field"] == CSRF_HEADER
        assert http.post("/ops/drift", headers={CSRF_HEADER: "x" + csrf.group(1)}).status_code == 403
        queued = http.post("/ops/drift", headers={CSRF_HEADER: csrf.group(1)})
        assert queued.status_code == 202

        assert http.post("/ops/logout", data={"csrf": "wrong"}).status_code == 403
        out = http.post("/ops/logout", data={"csrf": csrf.group(1)}, follow_redirects=False)
        assert out.status_code == 303 and f'{COOKIE}=""' in out.headers["set-cookie"]
        assert http.get("/tenants").status_code == 401
        assert http.get("/ops", follow_redirects=False).status_code == 303

        _login(http, key)
        assert http.get("/tenants").status_code == 200
        service.store.revoke_key(key.split("_")[1])
        assert http.get("/tenants").status_code == 401
    assert service.wait(queued.json()["id"])["status"] == "succeeded"
