"""Request-body rules that hold before any route parses a byte: size (413) and media type (415).

:class:`BodyLimit` is pure ASGI middleware: a declared ``Content-Length`` over the limit is answered 413
at once, without reading the body; a chunked body is counted as it streams in and cut off with a 413 the
moment it passes the limit (the route then sees a disconnected client), so memory never holds more
than the limit. :func:`json_body` is a route
dependency: a route that takes a JSON document refuses any other declared media type with 415 (an
absent body is left to the route, whose body may be optional).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import Request

from paybill_infra.service.errors import ServiceError
from paybill_infra.service.models import Problem, ProblemField

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Asgi = Callable[[Scope, Receive, Send], Awaitable[None]]


class BodyLimit:
    """Refuse request bodies larger than ``max_bytes`` with a 413 problem document."""

    def __init__(self, app: Asgi, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send)
            return
        seen, started, refused = 0, False, False

        async def counted() -> Message:
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    refused = True
                    if not started:
                        await self._refuse(send)
                    return {"type": "http.disconnect"}
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            if refused:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, counted, tracked)

    async def _refuse(self, send: Send) -> None:
        detail = f"the request body exceeds {self.max_bytes} bytes"
        body = Problem(
            title="Content Too Large", status=413, detail=detail, errors=(ProblemField(field="body", message=detail),)
        ).model_dump_json()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/problem+json"), (b"connection", b"close")],
            }
        )
        await send({"type": "http.response.body", "body": body.encode()})


def is_json(media_type: str) -> bool:
    main = media_type.split(";", 1)[0].strip().lower()
    return main == "application/json" or (main.startswith("application/") and main.endswith("+json"))


async def json_body(request: Request) -> None:
    """415 unless a request that carries a body declares a JSON media type."""
    has_body = request.headers.get("content-length", "0") not in ("", "0") or "transfer-encoding" in request.headers
    if has_body and not is_json(request.headers.get("content-type", "")):
        declared = request.headers.get("content-type") or "none"
        raise ServiceError(415, "Unsupported Media Type", f"expected application/json, got {declared}", "content-type")
