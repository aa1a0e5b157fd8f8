"""Provider gateway: the WebSocket routes for lease logs and Kubernetes events.

A provider's gateway lives at its ``hostUri`` (``https://provider.example.com:8443``); logs and
events are WebSocket routes under ``/lease/{dseq}/{gseq}/{oseq}/``, authorised with a provider JWT
(``Authorization: Bearer …``). Frames are JSON text. The provider closes with 4000 when no pod runs,
4001 when it does not know the lease, 4002 when the service is unavailable.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import urlencode

import httpx
from httpx_ws import (
    AsyncWebSocketSession,
    HTTPXWSException,
    WebSocketDisconnect,
    WebSocketUpgradeError,
    aconnect_ws,
)

from minds371.errors import MarketError
from minds371_akash.market._errors import NotFound, gateway_error
from minds371_akash.market._models import LeaseId

__all__ = ["lease_path", "stream_frames", "ws_query"]

T = TypeVar("T")

_CLOSE_NO_PODS = 4000
_CLOSE_NO_LEASE = 4001
_CLOSE_UNAVAILABLE = 4002


def lease_path(host_uri: str, lease: LeaseId, route: str) -> str:
    """``<hostUri>/lease/<dseq>/<gseq>/<oseq>/<route>``."""
    return f"{host_uri.rstrip('/')}/lease/{lease.dseq}/{lease.gseq}/{lease.oseq}/{route}"


def ws_query(*, follow: bool, tail: int | None = None, services: Sequence[str] = ()) -> str:
    """The gateway's query string: ``follow``, ``tail`` (≥ -1) and ``service`` (comma list)."""
    params: dict[str, str] = {"follow": "true" if follow else "false"}
    if tail is not None:
        params["tail"] = str(max(-1, tail))
    if services:
        params["service"] = ",".join(s for s in services if s)
    return urlencode(params)


async def stream_frames(
    client: httpx.AsyncClient,
    url: str,
    *,
    token: str,
    parse: Callable[[Mapping[str, Any]], T],
    provider: str,
    what: str,
) -> AsyncIterator[T]:
    """Yield each JSON text frame of a gateway WebSocket, parsed, until the provider closes it.

    Consume it with ``contextlib.aclosing`` so the socket closes when you stop early.

    Raises:
        NotFound: the provider does not know the lease (close code 4001, or HTTP 404).
        MarketError: the upgrade was refused, the connection failed, or a frame was malformed;
            ``retryable`` when the provider was unreachable or unavailable.
    """
    headers = {"Authorization": f"Bearer {token}"}
    # httpx-ws wraps whatever escapes its context in an ExceptionGroup, so failures inside are
    # kept aside and raised once the socket is closed.
    failure: Exception | None = None
    try:
        async with aconnect_ws(
            url,
            client,
            headers=headers,
            keepalive_ping_interval_seconds=10.0,
            session_class=AsyncWebSocketSession,
        ) as ws:
            while failure is None:
                try:
                    text = await ws.receive_text()
                except WebSocketDisconnect as exc:
                    failure = _close_error(exc, provider=provider, what=what)
                    break
                except HTTPXWSException as exc:
                    failure = _network_error(exc, provider=provider, what=what)
                    break
                try:
                    frame = json.loads(text)
                    item = parse(frame) if isinstance(frame, Mapping) else None
                except (ValueError, TypeError, KeyError) as exc:
                    failure = MarketError(
                        f"provider {provider}: {what} sent a malformed frame: {exc!r}",
                        details={"provider": provider},
                    )
                    break
                if item is not None:
                    yield item
    except WebSocketUpgradeError as exc:
        try:
            await exc.response.aread()
        except httpx.HTTPError:
            pass  # the body is gone with the stream; the status still says enough
        raise gateway_error(exc.response, what=what, provider=provider) from exc
    except HTTPXWSException as exc:
        raise _network_error(exc, provider=provider, what=what) from exc
    except httpx.HTTPError as exc:
        raise MarketError(
            f"provider {provider}: {what}: could not reach the provider: {type(exc).__name__}",
            retryable=True,
            details={"provider": provider, "transport": type(exc).__name__},
        ) from exc
    if failure is not None:
        raise failure


def _network_error(exc: Exception, *, provider: str, what: str) -> MarketError:
    return MarketError(
        f"provider {provider}: {what} connection failed: {type(exc).__name__}: {exc}",
        retryable=True,
        details={"provider": provider},
    )


def _close_error(exc: WebSocketDisconnect, *, provider: str, what: str) -> Exception | None:
    details = {"provider": provider, "close_code": exc.code, "reason": exc.reason or ""}
    if exc.code == _CLOSE_NO_LEASE:
        return NotFound(f"provider {provider}: {what}: lease not found", details=details)
    if exc.code == _CLOSE_UNAVAILABLE:
        return MarketError(
            f"provider {provider}: {what}: service unavailable", retryable=True, details=details
        )
    if exc.code == _CLOSE_NO_PODS:
        return MarketError(
            f"provider {provider}: {what}: no running pods ({exc.reason or 'internal'})",
            details=details,
        )
    return None
