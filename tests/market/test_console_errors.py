"""Error mapping of the Console backend, with responses shaped as in the Console OpenAPI document.

These are unit tests of one client's error mapping, the one place where httpx.MockTransport is
the right tool; the backend's behaviour end to end is tested against the sandbox.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from minds371.errors import (
    ConfigurationError,
    InsufficientFunds,
    LeaseError,
    ManifestRejected,
    MarketError,
    ValidationError,
)
from minds371_akash.market import ConsoleBackend, LeaseId, NotFound, RetryPolicy
from minds371_akash.market._errors import gateway_error, retry_after_seconds

BASE = "http://console.test"
Handler = Callable[[httpx.Request], httpx.Response]


def _err(status: int, error: str, message: str, code: str, **extra: object) -> dict[str, object]:
    kind = "client_error" if status < 500 else "server_error"
    return {"error": error, "message": message, "code": code, "type": kind, **extra}


def backend(handler: Handler, attempts: int = 1) -> ConsoleBackend:
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler), base_url=BASE)
    return ConsoleBackend(
        api_key="test-key-123", http_client=client, retry=RetryPolicy(maximum_attempts=attempts)
    )


def fixed(status: int, body: object, headers: dict[str, str] | None = None) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json=body, headers=headers)

    return handler


async def test_validation_error_names_every_field():
    body = _err(
        400,
        "BadRequestError",
        "Validation error",
        "validation_error",
        data=[{"path": ["dseq"], "message": "Expected bigint, received string"}],
    )
    body["type"] = "validation_error"
    market = backend(fixed(400, body))
    with pytest.raises(ValidationError) as info:
        await market.get_deployment(1)
    assert [(i.path, i.message) for i in info.value.issues] == [
        ("/dseq", "Expected bigint, received string")
    ]


async def test_invalid_sdl_is_a_validation_error_about_the_sdl():
    market = backend(fixed(400, _err(400, "BadRequestError", "Invalid SDL: bad", "bad_request")))
    with pytest.raises(ValidationError) as info:
        await market.update_deployment(5, "version: '2.0'")
    assert info.value.subject == "SDL"


@pytest.mark.parametrize(
    ("status", "message", "expected", "retryable"),
    [
        (400, "Failed to create lease: Cannot create lease: bid not open", LeaseError, False),
        (400, "Failed to create deployment: Insufficient funds", InsufficientFunds, False),
        (402, "Not enough balance to cover the deployment deposit", InsufficientFunds, False),
        (404, "Deployment not found", NotFound, False),
        (409, "Conflict", MarketError, False),
        (500, "Internal server error", MarketError, True),
        (502, "database timeout", MarketError, True),
        (503, "Provider service is temporarily unavailable", MarketError, True),
        (400, "manifest version validation failed", ManifestRejected, False),
    ],
)
async def test_status_maps_to_error(status, message, expected, retryable):
    market = backend(fixed(status, _err(status, "SomeError", message, "x")))
    with pytest.raises(expected) as info:
        await market.get_deployment(7)
    assert type(info.value) is expected
    assert info.value.retryable is retryable
    assert info.value.details["status"] == status


@pytest.mark.parametrize("status", [401, 403])
async def test_auth_failures_are_configuration_errors_without_the_key(status):
    market = backend(fixed(status, _err(status, "UnauthorizedError", "Invalid API key", "x")))
    with pytest.raises(ConfigurationError) as info:
        await market.list_bids(3)
    assert "test-key-123" not in str(info.value.to_dict())


async def test_429_is_retryable_and_carries_retry_after():
    market = backend(
        fixed(429, _err(429, "TooMany", "Too many requests", "rate_limited"), {"Retry-After": "7"})
    )
    with pytest.raises(MarketError) as info:
        await market.list_bids(3)
    assert info.value.retryable
    assert info.value.details["retry_after"] == 7.0


def test_retry_after_http_date_and_garbage():
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None


async def test_transport_failure_is_retryable():
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(MarketError) as info:
        await backend(handler).list_bids(3)
    assert info.value.retryable
    assert info.value.details["ambiguous"] is False


async def test_retryable_failures_are_retried_then_succeed():
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        if len(calls) < 3:
            return httpx.Response(
                503, json=_err(503, "ServiceUnavailable", "busy", "service_unavailable")
            )
        return httpx.Response(200, json={"data": []})

    assert await backend(handler, attempts=5).list_bids(3) == []
    assert len(calls) == 3


async def test_malformed_body_is_a_market_error_not_a_key_error():
    market = backend(fixed(200, {"data": [{"bid": {"state": "open"}}]}))
    with pytest.raises(MarketError, match="malformed"):
        await market.list_bids(3)


async def test_requests_carry_key_and_envelopes():
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200,
            json={
                "data": {
                    "deployment": {
                        "id": {"owner": "akash1o", "dseq": "9"},
                        "state": "active",
                        "hash": "",
                        "created_at": "1",
                    },
                    "leases": [],
                    "escrow_account": {
                        "id": {"scope": "deployment", "xid": "akash1o/9"},
                        "state": {
                            "owner": "akash1o",
                            "state": "open",
                            "transferred": [],
                            "settled_at": "1",
                            "funds": [{"denom": "uact", "amount": "500000"}],
                            "deposits": [],
                        },
                    },
                }
            },
        )

    market = backend(handler)
    lease = LeaseId(owner="akash1o", dseq=9, gseq=1, oseq=1, provider="akash1p")
    deployment = await market.create_leases(9, [lease], manifest="[]", sdl="")
    assert deployment.escrow is not None and deployment.escrow.funds == 500000
    request = seen[0]
    assert request.headers["x-api-key"] == "test-key-123"
    assert json.loads(request.content) == {
        "manifest": "[]",
        "leases": [{"dseq": "9", "gseq": 1, "oseq": 1, "provider": "akash1p"}],
    }


def test_gateway_errors():
    request = httpx.Request("PUT", "http://p/deployment/1/manifest")
    rejected = gateway_error(
        httpx.Response(422, text="manifest version validation failed", request=request),
        what="send-manifest",
    )
    assert isinstance(rejected, ManifestRejected)
    early = gateway_error(
        httpx.Response(404, text="no lease for deployment", request=request), what="send-manifest"
    )
    assert isinstance(early, LeaseError) and early.retryable


def test_missing_key_is_refused():
    with pytest.raises(ConfigurationError, match="MINDS371_CONSOLE_API_KEY"):
        ConsoleBackend("http://127.0.0.1:9", api_key="")


def test_non_loopback_url_refused_in_tests():
    with pytest.raises(ConfigurationError, match="network access is disabled"):
        ConsoleBackend("https://console-api.akash.network", api_key="k" * 10)


def test_hostile_endpoints_from_a_provider_are_left_out():
    from minds371_akash.market._parse import parse_lease_status

    status = parse_lease_status(
        {
            "services": {
                "web": {
                    "name": "web",
                    "available": 1,
                    "total": 1,
                    "uris": [
                        "ok.ingress.example.com",
                        "x$(touch PWNED).example.com",
                        "a b",
                        "e/vil",
                    ],
                }
            },
            "forwarded_ports": {
                "web": [
                    {"host": "p.example.com", "port": 22, "externalPort": 31000, "proto": "TCP"},
                    {"host": "`id`", "port": 22, "externalPort": 31001, "proto": "TCP"},
                    {"host": "p.example.com", "port": 22, "externalPort": 70000, "proto": "TCP"},
                ]
            },
            "ips": {
                "web": [{"IP": "2001:db8::1", "Port": 80, "ExternalPort": 80, "Protocol": "TCP"}]
            },
        }
    )
    assert [e.url for e in status.endpoints()] == [
        "http://ok.ingress.example.com",
        "tcp://p.example.com:31000",
        "tcp://[2001:db8::1]:80",
    ]
