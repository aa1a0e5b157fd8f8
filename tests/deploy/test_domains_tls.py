"""What ssl and domain need, decided before any spend; the TLS sidecar's SDL; DNS settings."""

from __future__ import annotations

import pytest
import yaml

from minds371.errors import ConfigurationError, ValidationError
from minds371.logging import redact
from minds371_akash.market import Endpoint
from minds371_akash.sdl import runnable_issues
from minds371_deploy.domains import DnsRecord, dns_provider_from_env
from minds371_deploy.domains.cloudflare import CloudflareProvider
from minds371_deploy.domains.records import record_for
from minds371_deploy.domains.rfc2136 import Rfc2136Provider, Rfc2136Settings
from minds371_deploy.domains.tls import SIDECAR_ENDPOINT, SIDECAR_SERVICE, tls_mode
from minds371_deploy.redundancy import check_sdl, rules_for_network
from minds371_deploy.request import parse_request

SECRET = "c2VjcmV0LXRoYXQtaXMtbm90LXRoZS1rZXk="
RFC2136 = Rfc2136Provider(
    Rfc2136Settings(server="127.0.0.1", zone="example.com", key_name="k", key_secret=SECRET)
)
CLOUDFLARE = CloudflareProvider(api_token="t" * 40, zone_id="0" * 32)


def _request(**fields: object) -> dict[str, object]:
    return {"name": "web", "image": "nginx:1.27", "domain": "app.example.com", **fields}


def test_tls_modes_and_what_is_refused_naming_the_field() -> None:
    assert tls_mode(False, None, None) == "none"
    assert tls_mode(True, None, CLOUDFLARE) == "dns_proxy"
    assert tls_mode(True, "dns_proxy", CLOUDFLARE) == "dns_proxy"
    assert tls_mode(True, "sidecar", RFC2136) == "sidecar"
    assert tls_mode(True, "sidecar", None) == "sidecar"
    for termination, provider, field in [
        (None, RFC2136, "/ssl"),
        (None, None, "/ssl"),
        ("dns_proxy", RFC2136, "/ssl_termination"),
    ]:
        with pytest.raises(ValidationError) as raised:
            tls_mode(True, termination, provider)
        assert [issue.path for issue in raised.value.issues] == [field]


def test_ssl_termination_needs_ssl_and_ssl_needs_a_domain() -> None:
    with pytest.raises(ValidationError, match="ssl_termination needs ssl: true"):
        parse_request(_request(ssl_termination="sidecar"))
    with pytest.raises(ValidationError, match="ssl needs a domain"):
        parse_request({"name": "web", "image": "nginx:1.27", "ssl": True})
    with pytest.raises(ValidationError, match="/ssl_termination"):
        parse_request(_request(ssl=True, ssl_termination="caddy"))


@pytest.mark.parametrize("network", ["sandbox", "console", "cli"])
def test_the_sidecar_sdl_is_valid_on_every_network(network: str) -> None:
    request = parse_request(_request(ssl=True, ssl_termination="sidecar", network=network))
    sdl = request.base_sdl()
    check_sdl(sdl, rules_for_network(network))
    assert runnable_issues(sdl) == []
    doc = yaml.safe_load(sdl)
    sidecar = doc["services"][SIDECAR_SERVICE]
    assert sidecar["image"].startswith("caddy:2.") and not sidecar["image"].endswith(":latest")
    assert sidecar["args"] == ["reverse-proxy", "--from", "app.example.com", "--to", "web:80"]
    assert [(e["port"], e["to"]) for e in sidecar["expose"]] == [
        (443, [{"global": True, "ip": SIDECAR_ENDPOINT}]),
        (80, [{"global": True, "ip": SIDECAR_ENDPOINT}]),
    ]
    assert doc["endpoints"] == {SIDECAR_ENDPOINT: {"kind": "ip"}}
    web = doc["services"]["web"]["expose"][0]
    assert "accept" not in web  # the name is the sidecar's, on the leased IP
    assert {"service": SIDECAR_SERVICE} in web["to"]
    assert request.domain_service == SIDECAR_SERVICE


def test_without_a_sidecar_the_domain_is_an_accept_host_of_the_first_port() -> None:
    request = parse_request(_request(ssl=True))
    doc = yaml.safe_load(request.base_sdl())
    assert doc["services"]["web"]["expose"][0]["accept"] == ["app.example.com"]
    assert SIDECAR_SERVICE not in doc["services"]
    assert request.domain_service == "web"


def test_a_service_named_like_the_sidecar_is_refused() -> None:
    spec = {
        "services": [
            {"name": "web", "image": "nginx:1.27", "ports": [{"port": 80}]},
            {"name": SIDECAR_SERVICE, "image": "nginx:1.27"},
        ],
        "max_price_uact": 100,
    }
    request = parse_request(
        {
            "name": "web",
            "infra_spec": spec,
            "domain": "a.example.com",
            "ssl": True,
            "ssl_termination": "sidecar",
        }
    )
    with pytest.raises(ValidationError, match="TLS sidecar's name"):
        request.base_sdl()


def test_dns_settings_from_the_environment_name_what_is_wrong() -> None:
    assert dns_provider_from_env({}) is None
    base = {
        "MINDS371_DNS_PROVIDER": "rfc2136",
        "MINDS371_DNS_SERVER": "127.0.0.1",
        "MINDS371_DNS_ZONE": "example.com",
        "MINDS371_DNS_TSIG_KEY_NAME": "k",
        "MINDS371_DNS_TSIG_SECRET": SECRET,
    }
    assert isinstance(dns_provider_from_env(base), Rfc2136Provider)
    for change, field in [
        ({"MINDS371_DNS_PROVIDER": "route53"}, "MINDS371_DNS_PROVIDER"),
        ({"MINDS371_DNS_SERVER": "ns1.example.com"}, "MINDS371_DNS_SERVER"),
        ({"MINDS371_DNS_PORT": "70000"}, "MINDS371_DNS_PORT"),
        ({"MINDS371_DNS_ZONE": ""}, "MINDS371_DNS_ZONE"),
        ({"MINDS371_DNS_TSIG_SECRET": "not base64!"}, "MINDS371_DNS_TSIG_SECRET"),
        ({"MINDS371_DNS_TSIG_ALGORITHM": "hmac-md5"}, "MINDS371_DNS_TSIG_ALGORITHM"),
    ]:
        with pytest.raises(ConfigurationError) as raised:
            dns_provider_from_env({**base, **change})
        assert raised.value.details["field"] == field
    with pytest.raises(ConfigurationError) as raised:
        dns_provider_from_env({"MINDS371_DNS_PROVIDER": "cloudflare"})
    assert raised.value.details["field"] == "MINDS371_CLOUDFLARE_API_TOKEN"


def test_the_tsig_secret_and_the_api_token_are_redacted_and_not_in_reprs() -> None:
    token = "cf-" + "x" * 37
    provider = CloudflareProvider(api_token=token, zone_id="0" * 32)
    rfc = Rfc2136Provider(
        Rfc2136Settings(server="127.0.0.1", zone="example.com", key_name="k", key_secret=SECRET)
    )
    assert SECRET not in repr(rfc.settings) and token not in repr(provider)
    assert SECRET not in redact(f"update signed with {SECRET}")
    assert token not in redact({"note": f"bearer {token}"})["note"]


def test_the_cname_targets_the_providers_own_host_not_another_accept_host() -> None:
    spec = {
        "services": [
            {
                "name": "web",
                "image": "nginx:1.27",
                "ports": [{"port": 80, "accept": ["www.example.com"]}],
            }
        ],
        "max_price_uact": 100,
    }
    request = parse_request({"name": "web", "infra_spec": spec, "domain": "app.example.com"})
    # The provider lists the service's hosts in its cluster's order: ours may come first.
    endpoints = [
        Endpoint(service="web", url=f"http://{host}", kind="http", gseq=1)
        for host in ("app.example.com", "www.example.com", "k3j2.ingress.p1.test")
    ]
    record = record_for(request, endpoints, proxied=False)
    assert record == DnsRecord("app.example.com", "CNAME", "k3j2.ingress.p1.test")
    assert record_for(request, endpoints[:2], proxied=False) is None  # nothing of the provider's


@pytest.mark.parametrize(
    "port",
    [{"port": 8080}, {"port": 80, "proto": "udp"}, {"port": 80, "global": False}],
)
def test_a_domain_on_a_port_the_http_ingress_does_not_serve_is_refused(
    port: dict[str, object],
) -> None:
    spec = {
        "services": [{"name": "web", "image": "nginx:1.27", "ports": [port, {"port": 443}]}],
        "max_price_uact": 100,
    }
    request = {"name": "web", "infra_spec": spec, "domain": "app.example.com"}
    with pytest.raises(ValidationError, match="HTTP ingress does not serve"):
        parse_request(request)
    # Exposed as 80 it is served; a sidecar forwards to any port inside the deployment.
    parse_request(
        {
            **request,
            "infra_spec": {
                **spec,
                "services": [
                    {"name": "web", "image": "nginx:1.27", "ports": [{"port": 8080, "as": 80}]}
                ],
            },
        }
    )
    parse_request({**request, "ssl": True, "ssl_termination": "sidecar"})


def test_a_sidecar_gets_an_a_record_to_its_ipv4_lease_only() -> None:
    request = parse_request(_request(ssl=True, ssl_termination="sidecar"))
    endpoints = [
        Endpoint(service="web", url="http://k3j2.ingress.p1.test", kind="http", gseq=1),
        Endpoint(service=SIDECAR_SERVICE, url="tcp://[2001:db8::5]:443", kind="ip", gseq=1),
        Endpoint(service=SIDECAR_SERVICE, url="tcp://203.0.113.9:443", kind="ip", gseq=1),
    ]
    assert record_for(request, endpoints, proxied=False) == DnsRecord(
        "app.example.com", "A", "203.0.113.9"
    )
    assert record_for(request, endpoints[:2], proxied=False) is None


def test_a_domain_on_a_request_built_from_a_repository_is_checked_once_built() -> None:
    request = parse_request(
        {
            "name": "web",
            "repo_url": "https://example.com/app.git",
            "container_registry": "registry.example.com/team",
            "domain": "app.example.com",
        }
    )
    built = request.with_built_image("registry.example.com/team/web@sha256:" + "a" * 64)
    assert built.domain_service == "web"
    doc = yaml.safe_load(built.base_sdl())
    assert doc["services"]["web"]["expose"][0]["accept"] == ["app.example.com"]
