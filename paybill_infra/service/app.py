"""The FastAPI application factory (``uvicorn --factory paybill_infra.service.app:create_app``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel, ConfigDict

from paybill_infra.service import console, ops, problems, rollouts, routes
from paybill_infra.service.limits import BodyLimit
from paybill_infra.service.models import Problem
from paybill_infra.service.runtime import ApiRuntime
from paybill_infra.service.settings import ServiceSettings


class Health(BaseModel):
    model_config = ConfigDict(frozen=True)

    status: str


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    """The service; settings default to the ``PAYBILL_SERVICE_*`` environment. Opening the queue and the
    registry happens at start-up (lifespan), so importing or building the app touches nothing. ``/docs``
    and ``/redoc`` serve Swagger UI and ReDoc from assets shipped in a package (no CDN: they work offline)."""
    resolved = settings or ServiceSettings.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        rt = await asyncio.to_thread(ApiRuntime, resolved)
        app.state.runtime = rt
        rt.wakeups.start()
        try:
            async with rt.queue.open_async():
                yield
        finally:
            app.state.runtime = None
            await rt.wakeups.stop()
            rt.close()

    app = FastAPIOffline(
        title="Paybill Infra control plane",
        version="1",
        summary="Tenant lifecycle over HTTP; operations run on queue workers.",
        lifespan=lifespan,
    )
    app.state.runtime = None
    problems.install(app)
    app.include_router(routes.router)
    app.include_router(ops.router)
    app.include_router(rollouts.router)
    app.include_router(console.router)
    app.add_middleware(BodyLimit, max_bytes=resolved.max_body_bytes)

    @app.get("/healthz", tags=["ops"], summary="Liveness and database reachability")
    async def healthz() -> Health:
        rt = app.state.runtime
        if isinstance(rt, ApiRuntime):
            await asyncio.to_thread(rt.store.ping)
        return Health(status="ok")

    _register(app, Problem)
    return app


def _register(app: FastAPI, model: type[BaseModel]) -> None:
    """Publish ``model`` under ``components/schemas`` (the problem responses reference it by name)."""
    build = app.openapi

    def openapi() -> dict[str, object]:
        if app.openapi_schema is None:
            schema = build()
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            published = model.model_json_schema(ref_template="#/components/schemas/{model}")
            components.update(published.pop("$defs", {}))
            components.setdefault(model.__name__, published)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
