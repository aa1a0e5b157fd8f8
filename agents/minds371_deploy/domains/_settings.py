"""Which DNS provider manages request domains, read from the environment (the library's edge).

``MINDS371_DNS_PROVIDER`` is ``rfc2136``, ``cloudflare`` or unset (no provider: a ``domain`` is
still added to the ingress hosts, and the record is the operator's to create).

=================================  ==========================================================
``rfc2136``                        ``MINDS371_DNS_SERVER`` (primary's IP), ``MINDS371_DNS_PORT``
                                   (53), ``MINDS371_DNS_ZONE``, ``MINDS371_DNS_TSIG_KEY_NAME``,
                                   ``MINDS371_DNS_TSIG_SECRET`` (base64),
                                   ``MINDS371_DNS_TSIG_ALGORITHM`` (``hmac-sha256``)
``cloudflare``                     ``MINDS371_CLOUDFLARE_API_TOKEN`` (a token with DNS Write on
                                   the zone), ``MINDS371_CLOUDFLARE_ZONE_ID``,
                                   ``MINDS371_CLOUDFLARE_API_URL`` (default Cloudflare's v4 API)
=================================  ==========================================================
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping

from minds371.errors import ConfigurationError
from minds371_deploy.domains._provider import DnsProvider

__all__ = ["PROVIDERS", "dns_provider_from_env"]

PROVIDERS = ("rfc2136", "cloudflare")


def dns_provider_from_env(environ: Mapping[str, str] | None = None) -> DnsProvider | None:
    """The configured DNS provider, or ``None`` when ``MINDS371_DNS_PROVIDER`` is unset.

    Raises:
        ConfigurationError: naming the variable that is missing or wrong.
    """
    env = os.environ if environ is None else environ
    kind = env.get("MINDS371_DNS_PROVIDER", "").strip().lower()
    if not kind:
        return None
    if kind == "rfc2136":
        return _rfc2136(env)
    if kind == "cloudflare":
        return _cloudflare(env)
    raise ConfigurationError(
        f"MINDS371_DNS_PROVIDER must be one of {', '.join(PROVIDERS)} (or unset), not {kind!r}",
        details={"field": "MINDS371_DNS_PROVIDER"},
    )


def _required(env: Mapping[str, str], name: str, why: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigurationError(f"{name} is not set: {why}", details={"field": name})
    return value


def _rfc2136(env: Mapping[str, str]) -> DnsProvider:
    from minds371_deploy.domains.rfc2136 import Rfc2136Provider, Rfc2136Settings

    server = _required(env, "MINDS371_DNS_SERVER", "the IP address of the zone's primary server")
    try:
        ipaddress.ip_address(server)
    except ValueError:
        raise ConfigurationError(
            f"MINDS371_DNS_SERVER must be an IP address, not {server!r}",
            details={"field": "MINDS371_DNS_SERVER"},
        ) from None
    port_text = env.get("MINDS371_DNS_PORT", "").strip() or "53"
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ConfigurationError(
            f"MINDS371_DNS_PORT must be a port number 1-65535, not {port_text!r}",
            details={"field": "MINDS371_DNS_PORT"},
        )
    settings = Rfc2136Settings(
        server=server,
        port=int(port_text),
        zone=_required(env, "MINDS371_DNS_ZONE", "the zone the records go in"),
        key_name=_required(env, "MINDS371_DNS_TSIG_KEY_NAME", "the TSIG key's name"),
        key_secret=_required(env, "MINDS371_DNS_TSIG_SECRET", "the TSIG key's base64 secret"),
        algorithm=env.get("MINDS371_DNS_TSIG_ALGORITHM", "").strip().lower() or "hmac-sha256",
    )
    return Rfc2136Provider(settings)


def _cloudflare(env: Mapping[str, str]) -> DnsProvider:
    from minds371_deploy.domains.cloudflare import API_URL, CloudflareProvider

    return CloudflareProvider(
        api_token=_required(
            env, "MINDS371_CLOUDFLARE_API_TOKEN", "an API token with DNS Write on the zone"
        ),
        zone_id=_required(env, "MINDS371_CLOUDFLARE_ZONE_ID", "the zone's identifier"),
        api_url=env.get("MINDS371_CLOUDFLARE_API_URL", "").strip() or API_URL,
    )
