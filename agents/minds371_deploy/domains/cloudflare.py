"""Cloudflare's DNS API (v4) over httpx: one zone's A and CNAME records, optionally proxied.

Routes and shapes follow Cloudflare's API reference
(developers.cloudflare.com/api/resources/dns/subresources/records/methods/{list,create,update,
delete} and /api/resources/zones/methods/get): ``GET /zones/{zone_id}``, ``GET
/zones/{zone_id}/dns_records?name=…`` (exact name), ``POST`` to create, ``PUT
/zones/{zone_id}/dns_records/{id}`` with the whole record to update, ``DELETE`` to remove; a
bearer API token; every answer the envelope ``{success, errors: [{code, message}], messages,
result}``. ``proxied: true`` sends the name's traffic through Cloudflare's proxy, which
terminates TLS for it with a certificate Cloudflare issues: the one DNS-side way to serve a
custom domain of an Akash deployment over HTTPS (see :mod:`.tls`). The token is registered for
redaction and never logged, put in an error or returned.
"""

from __future__ import annotations

import functools
import ssl
from typing import Any

import httpx

from minds371.errors import ConfigurationError, ProviderError
from minds371.logging import get_logger, register_secret
from minds371_deploy.domains._provider import DnsRecord

__all__ = ["API_URL", "CloudflareProvider"]

API_URL = "https://api.cloudflare.com/client/v4"
_log = get_logger("minds371.deploy.dns")
_TIMEOUT = 15.0
#: Error codes that are the configuration's fault: an authentication error (10000), an
#: unknown zone or malformed identifier (7003), a token without the permission (9109), a
#: malformed Authorization header (6003, 6111).
_CONFIG_CODES = frozenset({10000, 7003, 9109, 6003, 6111})


@functools.cache
def _tls_context() -> ssl.SSLContext:
    # Loading the CA bundle costs tens of milliseconds: once per process, not per call.
    return httpx.create_ssl_context()


class CloudflareProvider:
    """A :class:`~minds371_deploy.domains.DnsProvider` on one Cloudflare zone.

    Args:
        api_token: An API token with DNS Write on the zone (a secret).
        zone_id: The zone's identifier (32 hex characters).
        api_url: The API's base URL (a stand-in's in tests).
        transport: An httpx transport (tests of the error mapping only).
    """

    kind = "cloudflare"
    #: A proxied record is served by Cloudflare's edge, which terminates TLS for the name.
    terminates_tls = True

    def __init__(
        self,
        *,
        api_token: str,
        zone_id: str,
        api_url: str = API_URL,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        register_secret(api_token)
        self._token = api_token
        self.zone_id = zone_id
        self.api_url = api_url.rstrip("/")
        self._transport = transport
        self._zone_name: str | None = None

    def __repr__(self) -> str:
        return f"CloudflareProvider(zone_id={self.zone_id!r}, api_url={self.api_url!r})"

    async def check(self, name: str) -> None:
        """Read the zone and the name's records: a bad token or zone fails here, unchanged."""
        await self._in_zone(name)
        await self._records(name)

    async def upsert(self, record: DnsRecord) -> None:
        """Update the name's record in place when its type matches; else replace it."""
        await self._in_zone(record.name)
        body = {
            "type": record.type,
            "name": record.name,
            "content": record.content,
            "ttl": 1 if record.proxied else max(60, record.ttl),  # 1: "automatic"
            "proxied": record.proxied,
        }
        existing = await self._records(record.name)
        same = [r for r in existing if r.get("type") == record.type]
        for other in existing:
            if other not in same[:1]:
                await self._call("DELETE", f"/dns_records/{other['id']}")
        if same:
            await self._call("PUT", f"/dns_records/{same[0]['id']}", json=body)
        else:
            await self._call("POST", "/dns_records", json=body)
        _log.info(
            "minds371.deploy.dns_set",
            name=record.name,
            type=record.type,
            to=record.content,
            proxied=record.proxied,
        )

    async def delete(self, name: str) -> None:
        """Delete the name's A and CNAME records."""
        for found in await self._records(name):
            await self._call("DELETE", f"/dns_records/{found['id']}")
        _log.info("minds371.deploy.dns_removed", name=name)

    async def _in_zone(self, name: str) -> None:
        if self._zone_name is None:
            zone = await self._call("GET", "")
            self._zone_name = str((zone or {}).get("name", "")).lower().rstrip(".")
        zone_name = self._zone_name
        if not name.endswith("." + zone_name):
            raise ConfigurationError(
                f"{name} is not a name inside the Cloudflare zone {zone_name} that "
                "MINDS371_CLOUDFLARE_ZONE_ID names: use a domain under it, or that domain's zone",
                details={"field": "/domain", "zone": zone_name},
            )

    async def _records(self, name: str) -> list[dict[str, Any]]:
        found = await self._call("GET", "/dns_records", params={"name": name, "per_page": 100})
        if not isinstance(found, list):
            raise ProviderError("Cloudflare listed DNS records as something other than a list")
        return [r for r in found if isinstance(r, dict) and r.get("type") in ("A", "CNAME")]

    async def _call(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        url = f"{self.api_url}/zones/{self.zone_id}{path}"
        where = f"{method} /zones/{self.zone_id}{path}"
        headers = {"authorization": f"Bearer {self._token}"}
        try:
            async with httpx.AsyncClient(
                transport=self._transport, timeout=_TIMEOUT, verify=_tls_context()
            ) as client:
                response = await client.request(
                    method, url, json=json, params=params, headers=headers
                )
        except httpx.HTTPError as exc:
            raise ProviderError(
                f"Cloudflare's API did not answer {where}: {type(exc).__name__}",
                retryable=True,
            ) from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or "success" not in body:
            raise ProviderError(
                f"Cloudflare's API answered {where} with HTTP {response.status_code} and no "
                "API envelope",
                retryable=response.status_code >= 500 or response.status_code == 429,
                details={"status": response.status_code},
            )
        if body.get("success") is True and response.is_success:
            return body.get("result")
        errors = [e for e in body.get("errors") or [] if isinstance(e, dict)]
        codes = {int(e["code"]) for e in errors if isinstance(e.get("code"), int)}
        said = "; ".join(f"{e.get('code')}: {e.get('message')}" for e in errors[:5]) or "no reason"
        details = {"status": response.status_code, "codes": sorted(codes)}
        if codes & _CONFIG_CODES or response.status_code in (401, 403):
            raise ConfigurationError(
                f"Cloudflare refused {where} ({said}): check MINDS371_CLOUDFLARE_API_TOKEN (a "
                "token with DNS Write on the zone) and MINDS371_CLOUDFLARE_ZONE_ID",
                details={"field": "MINDS371_CLOUDFLARE_API_TOKEN", **details},
            )
        raise ProviderError(
            f"Cloudflare refused {where} with HTTP {response.status_code} ({said})",
            retryable=response.status_code >= 500 or response.status_code == 429,
            details=details,
        )
