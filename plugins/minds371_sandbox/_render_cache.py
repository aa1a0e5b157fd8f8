"""Rendered answers of the hot Console reads, reused while nothing they show has changed.

Clients poll ``GET /v1/deployments/{dseq}`` and ``GET /v1/bids`` several times a block. Each
answer is cached with a fingerprint of everything it renders (the height and the deployment's
states, leases, manifests, escrow and bids, the providers' online flags); any change gives a new
fingerprint, so a stale answer is never served. Injected gateway errors make lease status random,
so the deployment view is not cached while they are on.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable
from typing import Any

from starlette.responses import Response

from minds371_sandbox._hub import Hub
from minds371_sandbox._records import Deployment

__all__ = ["RenderCache", "bids_fingerprint", "deployment_fingerprint"]

_LIMIT = 10_000


def deployment_fingerprint(hub: Hub, dep: Deployment) -> Hashable:
    """Everything a Console deployment view shows, as a hashable value."""
    online = hub.world.online
    return (
        hub.world.height,
        dep.state,
        dep.hash,
        dep.escrow.state,
        dep.escrow.funds,
        len(dep.escrow.deposits),
        tuple(
            (
                lease.provider,
                lease.state,
                lease.generation,
                lease.manifest_at,
                online.get(lease.provider),
            )
            for lease in dep.leases
        ),
    )


def bids_fingerprint(hub: Hub, dep: Deployment | None) -> Hashable:
    """Everything a Console bid list shows, as a hashable value."""
    if dep is None:
        return None
    return tuple(
        (group.gseq, order.oseq, tuple((bid.provider, bid.state) for bid in order.bids))
        for group in dep.groups
        for order in group.orders
    )


class RenderCache:
    """Rendered JSON bodies keyed by request, valid while their fingerprint holds."""

    def __init__(self) -> None:
        self._entries: dict[Hashable, tuple[Hashable, bytes]] = {}

    def respond(self, key: Hashable, fingerprint: Hashable, render: Callable[[], Any]) -> Response:
        """The cached body for ``key`` if ``fingerprint`` matches, else a freshly rendered one."""
        entry = self._entries.get(key)
        if entry is None or entry[0] != fingerprint:
            if len(self._entries) >= _LIMIT:
                self._entries.clear()
            body = json.dumps(render(), separators=(",", ":")).encode()
            entry = (fingerprint, body)
            self._entries[key] = entry
        return Response(entry[1], media_type="application/json")
