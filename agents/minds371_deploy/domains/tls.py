"""What ``ssl: true`` can mean for a custom domain on Akash, and the TLS sidecar.

An Akash provider's ingress serves TLS only for its own host names: for a host in an expose's
``accept`` list it creates an Ingress (or, in Gateway API mode, an HTTPRoute) with routing
rules and no TLS section, so no certificate is ever issued for it (akash-network/provider
``cluster/kube/client_ingress.go``, ``ConnectHostnameToDeployment`` and ``ingressRules``;
``cluster/kube/gateway/httproute.go``). HTTPS on the user's own name therefore needs a TLS
terminator the user's DNS points at. Two work:

``dns_proxy``
    A proxied record on a DNS provider whose edge terminates TLS (Cloudflare, ``proxied:
    true``): the edge holds a certificate for the name and forwards to the provider's ingress
    host over HTTP, where the name is an ``accept`` host. Needs that DNS provider.
``sidecar``
    An IP lease and a TLS-terminating reverse proxy beside the service: Caddy, which gets a
    certificate for the domain from Let's Encrypt on its own (automatic HTTPS), listens on
    443 and 80 of a leased IP and forwards to the service inside the deployment; the domain's
    A record points at that IP. Works with any DNS provider (or a record made by hand), but
    needs a provider that leases IPs, and the certificate is issued again when the sidecar
    restarts (its storage is the container's).

A DNS provider that cannot terminate TLS (RFC 2136) with ``dns_proxy`` is refused before
anything is spent.
"""

from __future__ import annotations

from typing import Any, Literal

import yaml

from minds371.errors import FieldIssue, ValidationError
from minds371_deploy.domains._provider import DnsProvider

__all__ = [
    "SIDECAR_ENDPOINT",
    "SIDECAR_IMAGE",
    "SIDECAR_SERVICE",
    "TlsMode",
    "add_tls_sidecar",
    "tls_mode",
]

TlsMode = Literal["none", "dns_proxy", "sidecar"]

#: The sidecar's service name (a workload's own service may not use it).
SIDECAR_SERVICE = "minds371-tls"
#: The leased IP endpoint the sidecar listens on.
SIDECAR_ENDPOINT = "minds371-tls-ip"
#: Caddy 2 with automatic HTTPS; pinned, never ``latest``.
SIDECAR_IMAGE = "caddy:2.8.4"


def tls_mode(ssl: bool, termination: str | None, provider: DnsProvider | None) -> TlsMode:
    """How TLS is given for a request, decided before anything is spent.

    Args:
        ssl: The request's ``ssl``.
        termination: The request's ``ssl_termination`` (``dns_proxy``, ``sidecar`` or None:
            ``dns_proxy`` when the DNS provider can terminate TLS).
        provider: The configured DNS provider, if any.

    Raises:
        ValidationError: ``ssl`` asks for what the configuration cannot give, naming the field.
    """
    if not ssl:
        return "none"
    if termination == "sidecar":
        return "sidecar"
    if provider is not None and provider.terminates_tls:
        return "dns_proxy"
    kind = "no DNS provider" if provider is None else f"the {provider.kind} DNS provider"
    field = "/ssl" if termination is None else "/ssl_termination"
    raise ValidationError(
        [
            FieldIssue(
                field,
                f"TLS for a custom domain cannot be given with {kind}: Akash providers "
                "terminate TLS only for their own host names. Use ssl_termination: sidecar "
                "(a Caddy sidecar on a leased IP gets the certificate), or configure a DNS "
                "provider whose proxy terminates TLS (MINDS371_DNS_PROVIDER=cloudflare)",
            )
        ],
        subject="deployment request",
    )


def add_tls_sidecar(sdl: str, domain: str, service: str) -> str:
    """Put a TLS-terminating Caddy in front of ``service``'s first port, on a leased IP.

    The sidecar joins ``service``'s placement group at the same price; the service's port
    gains the sidecar as an allowed client (it stays reachable through the provider's ingress
    as before); 443 and 80 (HTTP-01 challenges, and the redirect to HTTPS) are exposed on the
    leased IP endpoint :data:`SIDECAR_ENDPOINT`.

    Raises:
        ValidationError: ``service`` has no port, or a service is already called
            :data:`SIDECAR_SERVICE`.
    """
    doc: dict[str, Any] = yaml.safe_load(sdl)
    services: dict[str, Any] = doc["services"]
    if SIDECAR_SERVICE in services:
        raise ValidationError(
            [FieldIssue("/infra_spec/services", f"{SIDECAR_SERVICE!r} is the TLS sidecar's name")],
            subject="deployment request",
        )
    exposes = services[service].get("expose") or []
    if not exposes:
        raise ValidationError(
            [FieldIssue("/ssl_termination", f"service {service} exposes no port to put TLS on")],
            subject="deployment request",
        )
    target = exposes[0]
    upstream = int(target.get("as") or target["port"])
    target.setdefault("to", []).append({"service": SIDECAR_SERVICE})
    on_ip = {"global": True, "ip": SIDECAR_ENDPOINT}
    services[SIDECAR_SERVICE] = {
        "image": SIDECAR_IMAGE,
        "command": ["caddy"],
        "args": ["reverse-proxy", "--from", domain, "--to", f"{service}:{upstream}"],
        "expose": [
            {"port": 443, "as": 443, "to": [dict(on_ip)]},
            {"port": 80, "as": 80, "to": [dict(on_ip)]},
        ],
    }
    doc.setdefault("endpoints", {})[SIDECAR_ENDPOINT] = {"kind": "ip"}
    profiles = doc["profiles"]
    profiles["compute"][SIDECAR_SERVICE] = {
        "resources": {
            "cpu": {"units": 0.25},
            "memory": {"size": "256Mi"},
            "storage": [{"size": "1Gi"}],
        }
    }
    placement_name, placed = next(iter(doc["deployment"][service].items()))
    pricing = profiles["placement"][placement_name]["pricing"]
    pricing[SIDECAR_SERVICE] = dict(pricing[placed["profile"]])
    doc["deployment"][SIDECAR_SERVICE] = {placement_name: {"profile": SIDECAR_SERVICE, "count": 1}}
    out: str = yaml.safe_dump(doc, sort_keys=False)
    return out
