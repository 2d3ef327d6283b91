"""The ops console in a real browser (Playwright driving Debian's chromium): sign in with an API key, the
fleet table, live progress of an onboarding started through the API, a drift check, sign out, and a
tenant admin who sees only its own tenant. A screenshot of the console lands in the test's tmp dir."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.service.conftest import Service

pytestmark = [pytest.mark.engine, pytest.mark.postgres]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SLOW_MS = 180_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing in CI (.ci/run installs it)")
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


def _sign_in(browser: Browser, service: Service, key: str) -> Page:
    page = browser.new_context(base_url=service.url).new_page()
    page.goto("/ops")
    expect(page).to_have_url(re.compile(r"/ops/login$"))
    page.fill("#api_key", key)
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/ops$"))
    return page


def _cells(page: Page, table: str, key: str, value: str) -> object:
    return page.locator(f"#{table} tr[data-{key}='{value}'] td")


def test_console_in_a_browser(browser: Browser, lone_service: Service, tmp_path: Path) -> None:
    with lone_service.platform() as http:
        other = http.post("/tenants", json={"slug": "otherco", "display_name": "Other", "plan": "starter"}).json()
    page = _sign_in(browser, lone_service, lone_service.platform_key)
    expect(page.locator("#who")).to_have_text("platform_admin:root")
    # the tenant is registered when the (possibly still starting) worker's control plane claims the operation
    expect(page.locator("#tenants tr[data-slug='otherco']")).to_have_count(1, timeout=SLOW_MS)
    expect(page.locator("#rollouts thead th").nth(3)).to_have_text("status")  # the rollout panel

    # The page sees the onboarding only once it has finished (a run can be shorter than the page's refresh):
    # it must still show the operation's events, replayed from its stream.
    operations = "**/operations?limit=50"
    page.route(operations, lambda route: route.abort())
    with lone_service.platform() as http:
        onboarding = http.post("/tenants", json={"slug": "webco", "display_name": "Web", "plan": "starter"}).json()
    assert lone_service.wait(onboarding["id"])["status"] == "succeeded"
    page.unroute(operations)
    row = page.locator(f"#operations tr[data-id='{onboarding['id']}'] td")
    expect(row.nth(5)).to_contain_text(re.compile(r"^\d+ events: "), timeout=SLOW_MS)
    expect(row.nth(3)).to_have_text("succeeded", timeout=SLOW_MS)
    expect(page.locator("#tenants tr[data-slug='webco'] td").nth(5)).to_have_text("active", timeout=SLOW_MS)
    assert lone_service.wait(other["id"])["status"] == "succeeded"

    assert page.request.post("/ops/drift").status == 403  # the cookie alone, without the page's CSRF token
    page.click("#check-drift")
    drift_row = page.locator("#operations tr", has=page.locator("td:nth-child(2)", has_text="drift")).first
    expect(drift_row.locator("td").nth(3)).to_have_text("succeeded", timeout=SLOW_MS)
    expect(page.locator("#drift-status")).to_have_text("no drift", timeout=SLOW_MS)
    with lone_service.platform() as http:
        rollout = http.post("/rollouts", json={"kind": "infra", "waves": "100%"}).json()
    rollout_row = page.locator(f"#rollouts tr[data-rollout='{rollout['id']}'] td")
    expect(rollout_row.nth(3)).to_have_text("succeeded", timeout=SLOW_MS)
    shot = tmp_path / "ops-console.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"console screenshot: {shot}")
    assert shot.stat().st_size > 10_000

    page.click("#logout")
    expect(page).to_have_url(re.compile(r"/ops/login$"))
    assert page.request.get("/tenants").status == 401

    admin = _sign_in(browser, lone_service, lone_service.tenant_key("webco"))
    expect(admin.locator("#tenants tbody tr")).to_have_count(1)
    expect(admin.locator("#tenants tbody tr td").first).to_have_text("webco")
    expect(admin.locator("#check-drift")).to_have_count(0)
    tenants_in_operations = admin.locator("#operations tbody td:nth-child(3)").all_inner_texts()
    assert tenants_in_operations and set(tenants_in_operations) == {"webco"}
    expect(admin.locator("main")).to_have_attribute("data-refreshes", re.compile(r"^([2-9]|\d\d+)$"))
    expect(admin.locator("#tenants tbody tr")).to_have_count(1)
    assert set(admin.locator("#operations tbody td:nth-child(3)").all_inner_texts()) == {"webco"}
