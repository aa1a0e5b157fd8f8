"""Discovery on this machine: ``minds371 discover`` probes the in-process sandbox's endpoints.

The embedded sandbox's providers name their hosts under ``*.sandbox.test``, which no DNS
resolves; only the sandbox itself answers for them (as a provider's ingress would). The registry
knows no marketplace, so this plugin, which knows both, hands ``discover`` a probe route into the
sandbox saved in this home. A served sandbox (``MINDS371_SANDBOX_URL``) is routed by the registry
itself.

:func:`routes_for_network` gives the same routes from a backend already open (the
``DISCOVER_SERVICE`` action, the watcher's idle probe).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from minds371_akash.networks import open_sandbox_ingress
from minds371_deploy.backends import DeployConfig
from minds371_registry._settings import SANDBOX_INGRESS_SUFFIX, probe_routes
from minds371_registry.discovery import ProbeRoute

__all__ = ["routes_for_network", "sandbox_probe_routes"]


@asynccontextmanager
async def sandbox_probe_routes() -> AsyncIterator[Sequence[ProbeRoute]]:
    """Routes for probing the embedded sandbox's hosts; none with a served one or no world."""
    config = DeployConfig.from_env()
    if config.sandbox_url:
        yield []
        return
    async with open_sandbox_ingress(config.sandbox_state) as ingress:
        if ingress is None:
            yield []
            return
        base_url, client = ingress
        yield [ProbeRoute(SANDBOX_INGRESS_SUFFIX, base_url, client=client)]


def routes_for_network(network: str, backend: Any) -> list[ProbeRoute]:
    """Routes for probing ``network``'s endpoints with its open ``backend`` at hand.

    A served sandbox (``MINDS371_SANDBOX_URL``) answers for its ingress hosts; else, on the
    ``sandbox`` network, the backend's own client reaches the embedded one. Other networks'
    endpoints are probed where they are.
    """
    routes = probe_routes()
    if routes or network != "sandbox":
        return routes
    client = getattr(backend, "http_client", None)
    if client is not None:
        base = getattr(backend, "base_url", "") or str(client.base_url)
        routes.append(ProbeRoute(SANDBOX_INGRESS_SUFFIX, base, client=client))
    return routes
