"""Console API plumbing: error bodies, credentials, request validation and fault injection.

Error bodies follow ``console:apps/api/src/core/services/hono-error-handler``:
``{"error": <class name>, "message", "code", "type", "data"?}``; request validation failures are
zod's: 400 ``{"error":"BadRequestError","message":"Validation error","code":"validation_error",
"type":"validation_error","data":[{"code","path","message",...}]}``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from minds371_sandbox._hub import Hub
from minds371_sandbox._identity import identity_for_api_key
from minds371_sandbox._world import WorldError

__all__ = [
    "ConsoleReject",
    "authenticate",
    "console_error",
    "faulty",
    "issue",
    "parse_dseq",
    "read_json",
    "world_error",
]

_STATUS = {
    400: ("BadRequestError", "bad_request"),
    401: ("UnauthorizedError", "unauthorized"),
    402: ("PaymentRequiredError", "payment_required"),
    403: ("ForbiddenError", "forbidden"),
    404: ("NotFoundError", "not_found"),
    409: ("ConflictError", "conflict"),
    429: ("TooManyRequestsError", "rate_limited"),
    500: ("InternalServerError", "internal_server_error"),
    502: ("BadGatewayError", "service_unavailable"),
    503: ("ServiceUnavailableError", "service_unavailable"),
}
_DEFAULT_MESSAGE = {
    429: "Too many requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}

Handler = Callable[[Request], Awaitable[Response]]


class ConsoleReject(Exception):
    """Raised inside a handler to answer with a Console error body."""

    def __init__(self, status: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.data = data


def console_error(status: int, message: str | None = None, data: Any = None) -> JSONResponse:
    """A Console error response for ``status``."""
    name, code = _STATUS.get(status, ("InternalServerError", "internal_server_error"))
    body: dict[str, Any] = {
        "error": name,
        "message": message or _DEFAULT_MESSAGE.get(status, name),
        "code": code,
        "type": "client_error" if status < 500 else "server_error",
    }
    if data is not None:
        body["data"] = data
    headers = {"Retry-After": "1"} if status == 429 else None
    return JSONResponse(body, status_code=status, headers=headers)


def issue(
    path: list[str | int], message: str, code: str = "invalid_type", **extra: Any
) -> dict[str, Any]:
    """One zod issue."""
    return {"code": code, **extra, "path": path, "message": message}


def validation_error(issues: list[dict[str, Any]]) -> ConsoleReject:
    """A zod validation failure (raise it)."""
    reject = ConsoleReject(400, "Validation error", issues)
    reject.data = issues
    return reject


def _validation_response(reject: ConsoleReject) -> JSONResponse:
    return JSONResponse(
        {
            "error": "BadRequestError",
            "message": "Validation error",
            "code": "validation_error",
            "type": "validation_error",
            "data": reject.data,
        },
        status_code=400,
    )


def world_error(exc: WorldError, prefix: str) -> ConsoleReject:
    """Map a refused chain transaction onto Console's answer (``chain-error.service.ts``).

    Chain refusals are 400 with Console's prefix ("Failed to create lease: ..."), "Insufficient
    funds" included; a missing object is 404. (Console's own balance check before a create is a
    402, made by the route.)
    """
    if exc.kind == "not_found":
        return ConsoleReject(404, exc.message)
    return ConsoleReject(400, f"{prefix}{exc.message}")


def authenticate(request: Request) -> str:
    """The owner address of the caller's ``x-api-key``.

    Raises:
        ConsoleReject: 400 when both credentials are sent, 401 when none (or an unusable one).
    """
    key = request.headers.get("x-api-key")
    bearer = request.headers.get("authorization")
    if key is not None and bearer is not None:
        raise ConsoleReject(400, "Authorization and X-Api-Key headers are mutually exclusive")
    if key is None and bearer is None:
        raise ConsoleReject(401, "Unauthorized")
    if not key or not key.strip():
        # The sandbox has no user JWTs: only API keys identify a managed wallet here.
        raise ConsoleReject(401, "Invalid API key")
    return identity_for_api_key(key).address


async def read_json(request: Request) -> Any:
    """The request body as JSON, or a 400 like Hono's."""
    raw = await request.body()
    try:
        return json.loads(raw or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConsoleReject(400, "Malformed JSON in request body") from exc


def parse_dseq(value: Any, path: list[str | int]) -> int:
    """A dseq (uint64, decimal string or number) or a zod-style 400."""
    if isinstance(value, bool) or value is None:
        raise validation_error(
            [issue(path, "Required" if value is None else "Expected bigint, received boolean")]
        )
    text = str(value)
    if not text.isdigit() or int(text) >= 2**64:
        raise validation_error(
            [issue(path, "Expected bigint, received string", expected="bigint", received="string")]
        )
    return int(text)


def faulty(hub: Hub, handler: Handler, *, mutating: bool) -> Handler:
    """Wrap a Console route with the active faults and error-body mapping."""

    async def route(request: Request) -> Response:
        faults = hub.faults
        if faults.latency:
            await anyio.sleep(faults.latency)
            hub.catch_up()  # blocks may have come due while the request waited
        if hub.roll(faults.error_rate):
            after = mutating and (
                faults.error_phase == "after" or (faults.error_phase == "both" and hub.coin())
            )
            if after:
                await _answer(handler, request)  # done, but the caller never hears of it
            return console_error(faults.error_status)
        return await _answer(handler, request)

    return route


async def _answer(handler: Handler, request: Request) -> Response:
    try:
        return await handler(request)
    except ConsoleReject as reject:
        if reject.message == "Validation error" and reject.status == 400:
            return _validation_response(reject)
        return console_error(reject.status, reject.message, reject.data)
