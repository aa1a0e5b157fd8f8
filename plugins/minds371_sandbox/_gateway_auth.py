"""Provider-gateway authorization: JWT checks, lease permissions and lease lookup.

Errors are JSON ``{"message"}`` with the provider's wording (``provider:utils/httperror``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse, Response

from minds371_sandbox._hub import Hub
from minds371_sandbox._identity import JwtError, verify_jwt
from minds371_sandbox._records import Deployment, Lease

__all__ = ["Denied", "as_int", "authorize", "find_lease"]


class Denied(Exception):
    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def _auth_error(status: int, message: str) -> Denied:
    return Denied(JSONResponse({"message": message}, status_code=status))


def _allows(leases: Mapping[str, Any], provider: str, scope: str, dseq: int | None) -> bool:
    access = leases.get("access")
    if access == "full":
        return True
    if access == "scoped":
        return scope in (leases.get("scope") or [])
    if access != "granular":
        return False
    for perm in leases.get("permissions") or []:
        if perm.get("provider") != provider:
            continue
        kind = perm.get("access")
        if kind == "full" or (kind == "scoped" and scope in (perm.get("scope") or [])):
            return True
        if kind == "granular":
            for dep in perm.get("deployments") or []:
                if (dseq is None or int(dep.get("dseq", -1)) == dseq) and scope in (
                    dep.get("scope") or []
                ):
                    return True
    return False


def authorize(hub: Hub, conn: HTTPConnection, scope: str, dseq: int | None) -> str:
    """The JWT issuer (the lease owner) when the token allows ``scope``; else a denial."""
    header = conn.headers.get("authorization")
    if header is None:
        raise _auth_error(401, "unauthorized access")
    if not header.startswith("Bearer "):
        raise _auth_error(400, "invalid authorization header")
    token = header[len("Bearer ") :].strip()
    claims = hub.jwt_cache.get(token)
    try:
        # Verification costs a few ms in pure Python; a verified token is cached and only its
        # time window is re-checked.
        claims = (
            verify_jwt(token, hub.world.public_key_of, now=None)
            if claims is None
            else _still_valid(token, hub, claims)
        )
    except JwtError as exc:
        raise _auth_error(exc.status, str(exc)) from exc
    hub.jwt_cache[token] = claims
    provider = conn.path_params["provider"]
    if not _allows(claims.get("leases") or {}, provider, scope, dseq):
        raise _auth_error(401, "unauthorized access")
    return str(claims["iss"])


def _still_valid(token: str, hub: Hub, claims: dict[str, Any]) -> dict[str, Any]:
    if time.time() >= float(claims["exp"]):
        hub.jwt_cache.pop(token, None)
        raise JwtError("JWT is expired")
    return claims


def find_lease(
    hub: Hub, owner: str, provider: str, params: Mapping[str, Any]
) -> tuple[Deployment, Lease] | None:
    try:
        dseq, gseq, oseq = int(params["dseq"]), int(params["gseq"]), int(params["oseq"])
    except (KeyError, ValueError):
        return None
    lease = hub.world.find_lease(owner, dseq, gseq, oseq, provider)
    if lease is None or lease.state != "active":
        return None
    return hub.world.deployments[(owner, dseq)], lease


def as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
