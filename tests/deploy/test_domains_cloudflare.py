"""The cloudflare DNS provider against a local stand-in of Cloudflare's DNS API over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import anyio
import httpx
import pytest

from minds371 import AgentRuntime, MemoryStateStore
from minds371.errors import ConfigurationError, ProviderError
from minds371_deploy.domains import DnsRecord, dns_provider_from_env
from minds371_deploy.domains.cloudflare import CloudflareProvider
from tests.deploy.conftest import Sandbox, web_request
from tests.servers.cloudflare import CloudflareStandIn, cloudflare_standin

TOKEN = "cf-token-0123456789abcdef"


@pytest.fixture(scope="module")
def cloudflare() -> Iterator[CloudflareStandIn]:
    with cloudflare_standin() as server:
        server.tokens.add(TOKEN)
        yield server


@pytest.fixture
def zone(cloudflare: CloudflareStandIn) -> str:
    return cloudflare.add_zone("example.com")


def _provider(cloudflare: CloudflareStandIn, zone: str, token: str = TOKEN) -> CloudflareProvider:
    return CloudflareProvider(api_token=token, zone_id=zone, api_url=cloudflare.url)


def _shape(records: list[dict[str, object]]) -> list[tuple[object, ...]]:
    return sorted((r["name"], r["type"], r["content"], r["proxied"], r["ttl"]) for r in records)


async def test_upsert_creates_updates_in_place_switches_type_and_delete_removes(
    cloudflare: CloudflareStandIn, zone: str
) -> None:
    dns = _provider(cloudflare, zone)
    await dns.check("app.example.com")
    await dns.upsert(DnsRecord("app.example.com", "CNAME", "a1.ingress.p1.test", proxied=True))
    assert _shape(cloudflare.records(zone)) == [
        ("app.example.com", "CNAME", "a1.ingress.p1.test", True, 1)
    ]
    (first,) = cloudflare.records(zone)
    await dns.upsert(DnsRecord("app.example.com", "CNAME", "b2.ingress.p2.test", proxied=True))
    (moved,) = cloudflare.records(zone)
    assert moved["id"] == first["id"] and moved["content"] == "b2.ingress.p2.test"  # PUT
    await dns.upsert(DnsRecord("app.example.com", "A", "203.0.113.7"))
    assert _shape(cloudflare.records(zone)) == [("app.example.com", "A", "203.0.113.7", False, 60)]
    await dns.delete("app.example.com")
    assert cloudflare.records(zone) == []
    await dns.delete("app.example.com")  # nothing there: not an error


async def test_a_bad_token_is_a_configuration_error_that_never_shows_the_token(
    cloudflare: CloudflareStandIn, zone: str
) -> None:
    with pytest.raises(ConfigurationError) as raised:
        await _provider(cloudflare, zone, token="not-the-token").check("app.example.com")
    assert "10000: Authentication error" in raised.value.message
    assert raised.value.details["status"] == 403
    assert "not-the-token" not in repr(raised.value.to_dict())


async def test_an_unknown_zone_is_a_configuration_error(cloudflare: CloudflareStandIn) -> None:
    with pytest.raises(ConfigurationError) as raised:
        await _provider(cloudflare, "0" * 32).check("app.example.com")
    assert "7003" in raised.value.message and "MINDS371_CLOUDFLARE_ZONE_ID" in raised.value.message


async def test_a_name_outside_the_zone_is_refused_naming_the_domain(
    cloudflare: CloudflareStandIn, zone: str
) -> None:
    with pytest.raises(ConfigurationError) as raised:
        await _provider(cloudflare, zone).check("app.example.org")
    assert raised.value.details["field"] == "/domain"


async def test_the_standin_refuses_a_second_cname_and_upsert_replaces_a_hand_made_one(
    cloudflare: CloudflareStandIn, zone: str
) -> None:
    # The stand-in refuses what Cloudflare refuses: a second CNAME at a name (81053).
    headers = {"authorization": f"Bearer {TOKEN}"}
    body = {"type": "CNAME", "name": "x.example.com", "content": "one.test", "ttl": 1}
    async with httpx.AsyncClient(base_url=cloudflare.url, headers=headers) as client:
        made = await client.post(f"/zones/{zone}/dns_records", json=body)
        again = await client.post(f"/zones/{zone}/dns_records", json={**body, "content": "two"})
        bad_ttl = await client.post(
            f"/zones/{zone}/dns_records", json={**body, "name": "y.example.com", "ttl": 5}
        )
    assert made.json()["success"] is True
    assert again.status_code == 400
    assert again.json()["errors"][0]["code"] == 81053
    assert bad_ttl.json()["errors"][0]["code"] == 9021
    # Our provider replaces the name's record instead of adding a second one.
    await _provider(cloudflare, zone).upsert(DnsRecord("x.example.com", "CNAME", "ours.test"))
    assert _shape(cloudflare.records(zone)) == [("x.example.com", "CNAME", "ours.test", False, 60)]


async def test_an_answer_without_the_envelope_is_a_retryable_provider_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(502, text="<html>bad gateway</html>")

    dns = CloudflareProvider(
        api_token=TOKEN, zone_id="z" * 32, transport=httpx.MockTransport(handler)
    )
    with pytest.raises(ProviderError) as raised:
        await dns.check("app.example.com")
    assert raised.value.retryable and "no API envelope" in raised.value.message


async def test_ssl_on_cloudflare_deploys_behind_a_proxied_record(
    sandbox: Sandbox,
    cloudflare: CloudflareStandIn,
    zone: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MINDS371_SANDBOX_URL", sandbox.url)
    monkeypatch.setenv("MINDS371_DNS_PROVIDER", "cloudflare")
    monkeypatch.setenv("MINDS371_CLOUDFLARE_API_TOKEN", TOKEN)
    monkeypatch.setenv("MINDS371_CLOUDFLARE_ZONE_ID", zone)
    monkeypatch.setenv("MINDS371_CLOUDFLARE_API_URL", cloudflare.url)
    assert isinstance(dns_provider_from_env(), CloudflareProvider)
    async with AgentRuntime(store=MemoryStateStore()) as runtime:
        with anyio.fail_after(60):
            result = await runtime.execute_action(
                "DEPLOY_TO_AKASH", web_request("edge", domain="edge.example.com", ssl=True)
            )
        assert result["dns"]["tls"] == "dns_proxy" and result["dns"]["proxied"] is True
        (record,) = cloudflare.records(zone)
        assert (record["type"], record["proxied"]) == ("CNAME", True)
        assert f"http://{record['content']}" in result["endpoints"]
        assert TOKEN not in repr(result)
        await runtime.execute_action("CLOSE_DEPLOYMENT", {"dseq": int(result["dseq"])})
