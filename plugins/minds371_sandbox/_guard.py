"""Who may talk to a sandbox: the Host a request names, the admin token, the API keys it knows.

Every request must name a host the sandbox answers to (loopback names and addresses, the
in-process base URL's host, and hosts allowed on purpose): a web page that rebinds its own DNS
name to 127.0.0.1 reaches the socket but names the wrong host, and gets 421.

The admin routes (``/sandbox/...``: faults, balances, blocks, lease closes, providers going
offline, the world with its workloads) exist on no real network; they need
``Authorization: Bearer <admin token>``, the token being made per sandbox. A write must say
``Content-Type: application/json`` and a request from a browser page (an ``Origin`` header not of
an allowed host) is refused, so a cross-site form or ``text/plain`` post cannot reach them.
``GET /sandbox/info`` (height, timing, providers: public facts on a real chain) stays open, and
``GET /sandbox/whoami`` answers to an API key.

An ``x-api-key`` the sandbox does not know is refused on every route, as Console's auth
interceptor does (``akash-network/console:apps/api/src/auth/services/auth.interceptor.ts``: 401
"Invalid API key"). A served sandbox knows :data:`DEFAULT_API_KEY`, the keys it was started with
and those issued through ``POST /sandbox/api-keys``; an in-process one, whose only callers are
its own process, knows every key unless given a set.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from minds371_sandbox._console_http import console_error

__all__ = [
    "ADMIN_PREFIX",
    "ADMIN_TOKEN_ENV",
    "DEFAULT_API_KEY",
    "Access",
    "GuardMiddleware",
    "is_loopback_host",
]

#: The API key of the embedded sandbox and the one a served sandbox always knows (the client's
#: ``minds371_akash.networks.SANDBOX_API_KEY``): it identifies the local test wallet, nothing more.
DEFAULT_API_KEY = "sandbox-local-key"
#: The environment variable ``minds371 sandbox serve`` takes its admin token from, if set.
ADMIN_TOKEN_ENV = "MINDS371_SANDBOX_ADMIN_TOKEN"
ADMIN_PREFIX = "/sandbox/"
_OPEN_ADMIN = frozenset({("GET", "/sandbox/info"), ("GET", "/sandbox/whoami")})
_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` (a name or an address, without port) is this machine."""
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _hostname(value: str) -> str | None:
    """The host of a ``Host`` header value or an ``Origin`` URL, lower-cased, port dropped."""
    try:
        parsed = urlsplit(value if "//" in value else f"//{value}")
        return parsed.hostname  # lower-cased, brackets of IPv6 literals removed
    except ValueError:
        return None


@dataclass
class Access:
    """A sandbox's access rules (see module docs).

    Attributes:
        admin_token: The admin routes' bearer token.
        api_keys: The API keys accepted, or ``None`` for any (in-process only).
        hosts: Host names answered to besides loopback ones.
    """

    admin_token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    api_keys: set[str] | None = None
    hosts: frozenset[str] = frozenset()

    @classmethod
    def build(
        cls,
        *,
        admin_token: str | None = None,
        api_keys: Iterable[str] | None = None,
        hosts: Iterable[str] = (),
    ) -> Access:
        """Rules with a fresh token unless one is given; ``api_keys`` always adds the default."""
        keys = None if api_keys is None else {DEFAULT_API_KEY, *api_keys}
        names = frozenset(h.lower().strip("[]") for h in hosts)
        if admin_token:
            return cls(admin_token=admin_token, api_keys=keys, hosts=names)
        return cls(api_keys=keys, hosts=names)

    def host_allowed(self, value: str | None) -> bool:
        """Whether a ``Host`` header (or ``Origin``) names this sandbox."""
        host = _hostname(value or "")
        return bool(host) and (is_loopback_host(host or "") or host in self.hosts)

    def admin_allowed(self, authorization: str | None) -> bool:
        """Whether an ``Authorization`` header carries the admin token."""
        scheme, _, token = (authorization or "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            token.strip().encode(), self.admin_token.encode()
        )

    def key_known(self, key: str) -> bool:
        """Whether an ``x-api-key`` is one this sandbox issued or was given."""
        return self.api_keys is None or key in self.api_keys

    def issue_key(self, key: str | None = None) -> str:
        """Know ``key`` from now on, or make a new one; return it."""
        key = key or f"sandbox-{secrets.token_urlsafe(24)}"
        if self.api_keys is not None:
            self.api_keys.add(key)
        return key


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


class GuardMiddleware:
    """Apply :class:`Access` to every request before any route sees it."""

    def __init__(self, app: ASGIApp, access: Access) -> None:
        self.app = app
        self.access = access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        refusal = self._refusal(scope)
        if refusal is None:
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
        else:
            await refusal(scope, receive, send)

    def _refusal(self, scope: Scope) -> Response | None:
        headers = Headers(scope=scope)
        access = self.access
        if not access.host_allowed(headers.get("host")):
            return _error(421, "this sandbox does not answer to that Host")
        path, method = scope["path"], scope.get("method", "GET")
        if path.startswith(ADMIN_PREFIX) and (method, path) not in _OPEN_ADMIN:
            origin = headers.get("origin")
            if origin is not None and not access.host_allowed(origin):
                return _error(403, "admin routes refuse cross-origin requests")
            if not access.admin_allowed(headers.get("authorization")):
                return _error(
                    401,
                    "admin routes need Authorization: Bearer <the sandbox's admin token>",
                    {"WWW-Authenticate": "Bearer"},
                )
            content_type = headers.get("content-type", "").split(";")[0].strip().lower()
            if method in _WRITES and content_type != "application/json":
                return _error(415, "admin writes must be Content-Type: application/json")
        key = headers.get("x-api-key")
        if key is not None and key.strip() and not access.key_known(key):
            return console_error(401, "Invalid API key")
        return None
