"""The FastAPI application factory (``uvicorn --factory paybill_infra.service.app:create_app``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict

from paybill_infra.service import ops, problems, routes
from paybill_infra.service.models import Problem
from paybill_infra.service.runtime import ApiRuntime
from paybill_infra.service.settings import ServiceSettings


class Health(BaseModel):
    model_config = ConfigDict(frozen=True)

    status: str


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    """The service; settings default to the ``PAYBILL_SERVICE_*`` environment. Opening the queue and the
    registry happens at start-up (lifespan), so importing or building the app touches nothing."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        rt = await asyncio.to_thread(ApiRuntime, settings or ServiceSettings.from_env())
        app.state.runtime = rt
        rt.wakeups.start()
        try:
            async with rt.queue.open_async():
                yield
        finally:
            app.state.runtime = None
            await rt.wakeups.stop()
            rt.close()

    app = FastAPI(
        title="Paybill Infra control plane",
        version="1",
        summary="Tenant lifecycle over HTTP; operations run on queue workers.",
        lifespan=lifespan,
    )
    app.state.runtime = None
    problems.install(app)
    app.include_router(routes.router)
    app.include_router(ops.router)

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
