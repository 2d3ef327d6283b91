"""The ops console in a browser: sign in with an API key (or a JWT), then tenants, operations with live
progress (Server-Sent Events), the queue, drift and recent rollouts, refreshed in place.

``GET /ops`` is one server-rendered page (every value escaped, no inline script: the page's
Content-Security-Policy allows only this origin's ``/ops/static`` script and style). Its script reads the
same public API the page's session may read (``/tenants``, ``/operations``, ``/operations/{id}/events``,
and for a platform admin ``/ops/summary``) and queues drift checks with the CSRF token from the page.
A browser without a session is sent to ``/ops/login``; a tenant admin sees only its own tenant.
Sessions: :mod:`paybill_infra.service.sessions`.
"""

from __future__ import annotations

import asyncio
from html import escape
from pathlib import Path
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.security import HTTPAuthorizationCredentials

from paybill_infra.errors import PaybillError
from paybill_infra.rollouts.models import RolloutView
from paybill_infra.service.auth import KEY_PREFIX, require
from paybill_infra.service.errors import not_found
from paybill_infra.service.models import OperationView, Principal, Role, Scope
from paybill_infra.service.ops import summary
from paybill_infra.service.runtime import ApiRuntime, authenticate, bearer, runtime
from paybill_infra.service.sessions import COOKIE, Session

router = APIRouter(prefix="/ops", tags=["ops"], include_in_schema=False)
STATIC = Path(__file__).parent / "static"
ASSETS = {"console.js": "text/javascript", "console.css": "text/css"}
LOGIN_FORM_LIMIT = 8_192
RECENT = 50
ROLLOUTS = 10
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
Runtime = Annotated[ApiRuntime, Depends(runtime)]


def _page(title: str, body: str, *, csrf: str = "") -> str:
    meta = f"<meta name='csrf-token' content='{escape(csrf)}'>" if csrf else ""
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{escape(title)}</title>{meta}"
        "<link rel='stylesheet' href='/ops/static/console.css'>"
        "<script src='/ops/static/console.js' defer></script></head>"
        f"<body>{body}</body></html>"
    )


def _html(text: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(text, status_code=status, headers=SECURITY_HEADERS)


@router.get("/static/{name}")
async def asset(name: str) -> FileResponse:
    if name not in ASSETS:
        raise not_found(f"no asset '{name}'", "name")
    return FileResponse(STATIC / name, media_type=ASSETS[name], headers={"X-Content-Type-Options": "nosniff"})


def login_page(error: str = "", status: int = 200) -> HTMLResponse:
    message = f"<p class='error' role='alert'>{escape(error)}</p>" if error else ""
    return _html(
        _page(
            "Sign in: Paybill operations",
            "<main class='login'><h1>Paybill operations</h1>"
            f"{message}<form method='post' action='/ops/login'>"
            "<label for='api_key'>API key or token</label>"
            "<input id='api_key' name='api_key' type='password' autocomplete='off' required>"
            "<button type='submit'>Sign in</button></form></main>",
        ),
        status,
    )


@router.get("/login", response_class=HTMLResponse)
async def login_form() -> HTMLResponse:
    return login_page()


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request, rt: Runtime) -> Response:
    """Exchange an API key (``pbk_…``) or a JWT for a session cookie, then go to the console."""
    body = await request.body()
    credential = parse_qs(body[:LOGIN_FORM_LIMIT].decode(errors="replace")).get("api_key", [""])[0].strip()
    try:
        principal = await asyncio.to_thread(rt.auth.authenticate, credential or None)
    except PaybillError:
        return login_page("That key or token was not accepted.", 401)
    key_id = credential.removeprefix(KEY_PREFIX).partition("_")[0] if credential.startswith(KEY_PREFIX) else None
    token, session = rt.sessions.issue(principal, key_id)
    response = RedirectResponse("/ops", status_code=303, headers={"Cache-Control": "no-store"})
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(rt.sessions.ttl.total_seconds()),
        expires=session.expires_at,
        path="/",
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )
    return response


@router.post("/logout")
async def logout(request: Request, rt: Runtime) -> Response:
    """End the session (the form carries the CSRF token; a forged logout is refused)."""
    token = request.cookies.get(COOKIE)
    if token is not None:
        session = rt.sessions.verify(token)
        presented = parse_qs((await request.body())[:LOGIN_FORM_LIMIT].decode(errors="replace")).get("csrf", [""])[0]
        rt.sessions.check_csrf(session, "POST", presented)
    response = RedirectResponse("/ops/login", status_code=303, headers={"Cache-Control": "no-store"})
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return response


@router.get("", response_class=HTMLResponse, summary="The operations console")
async def console(
    request: Request, rt: Runtime, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Response:
    if credentials is None and COOKIE not in request.cookies:
        return RedirectResponse("/ops/login", status_code=303)
    try:
        caller = await authenticate(request, credentials)
    except PaybillError:
        if credentials is not None:
            raise
        return RedirectResponse("/ops/login", status_code=303)
    require(caller, Scope.TENANTS_READ)
    token = request.cookies.get(COOKIE) if credentials is None else None
    session = rt.sessions.verify(token) if token else None
    return _html(await asyncio.to_thread(render, rt, caller, session))


def _table(table_id: str, headers: tuple[str, ...], rows: list[tuple[tuple[str, str], list[str]]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join(
        f"<tr {attrs}>" + "".join(f"<td>{escape(c)}</td>" for c in cells) + "</tr>" for attrs, cells in _attrs(rows)
    )
    return f"<table id='{table_id}'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _attrs(rows: list[tuple[tuple[str, str], list[str]]]) -> list[tuple[str, list[str]]]:
    return [(f"data-{escape(k)}='{escape(v)}'" if k else "", cells) for (k, v), cells in rows]


def _operation_row(o: OperationView) -> tuple[tuple[str, str], list[str]]:
    cells = [
        o.created_at.strftime("%Y-%m-%dT%H:%M:%S"),
        o.kind.value,
        o.tenant or "fleet",
        o.status.value,
        o.phase,
        "",
        o.actor,
        o.error or "",
    ]
    return ("id", o.id), cells


def rollouts_panel(rollouts: list[RolloutView]) -> str:
    """Recent rollouts: each one's waves, where it is, its units per status and its error."""
    rows = [
        (
            ("rollout", r.id),
            [
                r.created_at.strftime("%Y-%m-%dT%H:%M:%S"),
                r.kind.value,
                r.waves,
                r.status.value,
                "" if r.current_wave is None else str(r.current_wave + 1),
                ", ".join(f"{n} {status}" for status, n in sorted(r.counts.items())),
                f"{r.failures}/{r.error_budget}",
                r.error or "",
            ],
        )
        for r in rollouts
    ]
    headers = ("created", "kind", "waves", "status", "wave", "units", "failures/budget", "error")
    return f"<section><h2>Rollouts</h2>{_table('rollouts', headers, rows)}</section>"


def render(rt: ApiRuntime, caller: Principal, session: Session | None) -> str:
    """The console page for ``caller``: the whole fleet for a platform admin, its tenant for a tenant admin."""
    platform = caller.role is Role.PLATFORM_ADMIN
    if platform:
        data = summary(rt)
        tenants, operations = list(data.tenants), list(data.operations)
        states = ", ".join(f"{k}: {v}" for k, v in data.fleet.tenants.items()) or "none"
        queue = ", ".join(f"{k}: {v}" for k, v in sorted(data.queue.items())) or "none"
        drift = "<p id='drift-status'>no drift check yet</p>"
        if data.drift is not None:
            rows = [(("", ""), [d.stack, d.urn, ", ".join(d.fields)]) for d in data.drift.drifted]
            status = "no drift" if data.drift.clean else f"{len(data.drift.drifted)} drifted resources"
            drift = _table("drift-report", ("stack", "resource", "fields"), rows)
            drift += f"<p id='drift-status'>{escape(status)}</p>"
        fleet = (
            f"<p>Tenants by state: <span id='states'>{escape(states)}</span></p>"
            f"<p>Queue: <span id='queue'>{escape(queue)}</span></p>"
        )
        check = "<button id='check-drift' type='button'>Check drift</button>" if session else ""
        drift_section = f"<section><h2>Drift</h2><div id='drift'>{drift}</div>{check}</section>"
        drift_section += rollouts_panel(rt.reader.rollouts.recent(ROLLOUTS))
    else:
        tenants = [rt.reader.show(caller.tenant or "")]
        operations = rt.store.recent(caller.tenant, RECENT)
        fleet = drift_section = ""
    tenant_rows = [
        (
            ("slug", t.slug),
            [
                t.slug,
                t.plan,
                t.isolation.value,
                t.cloud.value,
                t.region,
                t.state.value,
                t.stack or "",
                t.subscription.status.value if t.subscription else "",
            ],
        )
        for t in tenants
    ]
    signout = (
        "<form method='post' action='/ops/logout'>"
        f"<input type='hidden' name='csrf' value='{escape(session.csrf)}'>"
        "<button id='logout' type='submit'>Sign out</button></form>"
        if session
        else ""
    )
    body = (
        f"<header><h1>Paybill operations</h1><p id='who'>{escape(caller.actor)}</p>{signout}</header>"
        f"<main data-role='{escape(caller.role.value)}'>{fleet}"
        "<section><h2>Tenants</h2>"
        + _table(
            "tenants", ("slug", "plan", "isolation", "cloud", "region", "state", "stack", "subscription"), tenant_rows
        )
        + "</section><section><h2>Recent operations</h2>"
        + _table(
            "operations",
            ("created", "kind", "tenant", "status", "phase", "progress", "actor", "error"),
            [_operation_row(o) for o in operations],
        )
        + f"</section>{drift_section}</main>"
    )
    return _page("Paybill operations", body, csrf=session.csrf if session else "")
