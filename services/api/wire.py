"""AWS JSON 1.1 on ``POST /``: one route, one dispatch table, one error renderer.

Request context: the route sets ``current_channel()`` from the ``X-Kensaku-Channel`` header (web,
chat or api; anything else or nothing is api) before the handler runs. It is a context variable, so
it follows the request into the worker thread (starlette's ``run_in_threadpool`` copies the context).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from kernel import model
from kernel.errors import (
    InternalServerException,
    KendraError,
    UnknownOperationException,
    ValidationException,
)
from kernel.handlers import Handler, NotBuilt
from services.api.auth import verify_sigv4
from services.api.body import parse as parse_body
from services.api.body import read_limited
from services.api.identity import apply_trusted_user, check_user_operation
from services.database import DatabaseUnavailable
from services.engine.base import EngineUnavailable
from services.settings import Settings

TARGET_PREFIX = "AWSKendraFrontendService."
CONTENT_TYPE = "application/x-amz-json-1.1"
CHANNEL_HEADER = "x-kensaku-channel"
CHANNELS = ("web", "chat", "api")
DEFAULT_CHANNEL = "api"
_INLINE_PARSE_BYTES = 64 * 1024

_channel: ContextVar[str] = ContextVar("kensaku_channel", default=DEFAULT_CHANNEL)


def current_channel() -> str:
    """The channel of the request being handled: "web", "chat" or "api"."""
    return _channel.get()


def _channel_of(header: str | None) -> str:
    value = (header or "").strip().lower()
    return value if value in CHANNELS else DEFAULT_CHANNEL


log = logging.getLogger("kensaku.api")


def _response(status: int, body: Mapping[str, Any] | None, request_id: str) -> Response:
    payload = json.dumps(model.to_wire(body or {}), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Response(
        payload, status_code=status, media_type=CONTENT_TYPE, headers={"x-amzn-RequestId": request_id}
    )


def kendra_router(settings: Settings, operations: Mapping[str, Handler],
                  admin: Callable[[Request], bool]) -> APIRouter:
    """The Kendra endpoint. ``operations`` maps operation names to handlers taking validated input;
    ``admin`` tells a request holding an admin session of the web pages."""
    router = APIRouter()

    @router.post("/")
    async def kendra(request: Request) -> Response:
        request_id = str(uuid.uuid4())
        channel = _channel.set(_channel_of(request.headers.get(CHANNEL_HEADER)))
        try:
            body = await read_limited(
                request.stream(), request.headers.get("content-length"), settings.request_bytes_limit
            )
            if settings.auth_mode == "sigv4":
                verify_sigv4(
                    "POST", request.url.path, request.url.query, request.headers, body, settings.access_keys,
                    settings.region,
                )
            target = request.headers.get("x-amz-target", "")
            name = target[len(TARGET_PREFIX) :] if target.startswith(TARGET_PREFIX) else ""
            handler = operations.get(name)
            if handler is None:
                raise UnknownOperationException(f"Unknown operation {target!r}")
            if isinstance(handler, NotBuilt):
                raise handler.refuse()
            check_user_operation(settings, name, request.headers, admin(request))
            try:  # a large body is parsed off the event loop, which keeps serving meanwhile
                raw = parse_body(body) if len(body) < _INLINE_PARSE_BYTES else await run_in_threadpool(parse_body, body)
            except ValidationException as error:  # GetSnapshots names it InvalidRequestException
                raise model.validation_error(name)(error.message) from None
            raw_params = model.parse_input(name, raw) if model.in_model(name) else raw
            params = apply_trusted_user(settings, name, request.headers, raw_params)
            result = await run_in_threadpool(handler, params)
            return _response(200, result, request_id)
        except KendraError as error:
            return _response(error.status, error.body(), request_id)
        except ClientDisconnect:  # not a bug: the app's handler notes it quietly
            raise
        except EngineUnavailable as error:  # not the client's mistake either: a 5xx it may retry
            log.warning("search engine unavailable (request %s): %s", request_id, error)
            return _response(500, InternalServerException(f"The search engine is unavailable: {error}").body(),
                             request_id)
        except DatabaseUnavailable as error:  # PostgreSQL down or restarting: 503, which clients retry
            log.warning("database unavailable (request %s): %s", request_id, error)
            return _response(503, InternalServerException(f"The database is unavailable: {error}").body(),
                             request_id)
        except Exception:  # a bug of ours: say so, log it, keep serving
            log.exception("operation failed (request %s)", request_id)
            return _response(500, InternalServerException("Internal error; see the server log").body(), request_id)
        finally:
            _channel.reset(channel)

    return router
