"""Translating HTTP failures of the Console API and provider gateways into minds371's error tree.

Console error bodies are ``{"error", "message", "code", "type", "data"?}``; validation failures
carry ``data: [{"path": [...], "message": ...}]``; chain errors arrive as 400 with a known message
("Insufficient funds", "Cannot create lease: …"); 402 means the managed wallet lacks credits.
Provider gateways answer plain text (422 for a rejected manifest, 404 "no lease for deployment")
and JSON ``{"message"}`` for auth failures. ``retryable`` is true only where trying again can help:
429, 5xx, transport failures, and the provider not yet having seen a lease.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping
from typing import Any

import httpx

from minds371.errors import (
    ConfigurationError,
    FieldIssue,
    InsufficientFunds,
    LeaseError,
    ManifestRejected,
    MarketError,
    Minds371Error,
    ValidationError,
    pointer,
)

__all__ = [
    "NotFound",
    "console_error",
    "gateway_error",
    "is_ambiguous",
    "retry_after_seconds",
    "transport_error",
]

_MANIFEST_REJECTED = (
    "manifest version validation failed",
    "invalid manifest",
    "manifest rejected",
    "manifest cross-validation",
)


class NotFound(MarketError):
    """The marketplace does not know the deployment, lease or provider asked for."""


def retry_after_seconds(value: str | None) -> float | None:
    """Parse a ``Retry-After`` header: delta seconds or an HTTP date; ``None`` if absent/bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _body(response: httpx.Response) -> tuple[str, Mapping[str, Any]]:
    try:
        doc = response.json()
    except ValueError:
        return response.text.strip()[:500], {}
    except httpx.ResponseNotRead:
        return "", {}
    if isinstance(doc, Mapping):
        message = doc.get("message") or doc.get("error") or ""
        return str(message)[:500], doc
    return response.text.strip()[:500], {}


def _issues(data: Any) -> list[FieldIssue]:
    issues: list[FieldIssue] = []
    for item in data if isinstance(data, list) else []:
        if isinstance(item, Mapping):
            path = item.get("path")
            where = pointer(path) if isinstance(path, list) else str(path or "")
            issues.append(FieldIssue(where, str(item.get("message", "invalid value"))))
    return issues


def _bad_request(
    doc: Mapping[str, Any], message: str, text: str, *, what: str, details: dict[str, Any]
) -> Minds371Error:
    lower = message.lower()
    if doc.get("code") == "validation_error" or doc.get("type") == "validation_error":
        issues = _issues(doc.get("data")) or [FieldIssue("", message or "invalid request")]
        return ValidationError(issues, subject=f"{what} request")
    if lower.startswith("invalid sdl") or "invalid sdl:" in lower:
        return ValidationError([FieldIssue("", message)], subject="SDL")
    if "insufficient funds" in lower or "deposit too low" in lower:
        return InsufficientFunds(text, details=details)
    if any(marker in lower for marker in _MANIFEST_REJECTED):
        return ManifestRejected(text, details=details)
    if "cannot create lease" in lower or "failed to create lease" in lower:
        return LeaseError(text, details=details)
    return MarketError(text, details=details)


def console_error(response: httpx.Response, *, what: str) -> Minds371Error:
    """The error for a Console API response with a 4xx/5xx status.

    Args:
        response: The failed response (its body is read here).
        what: The call, for messages (``"POST /v1/deployments"``).
    """
    status = response.status_code
    message, doc = _body(response)
    details: dict[str, Any] = {"status": status, "call": what, "server_message": message}
    if doc.get("code"):
        details["code"] = str(doc["code"])
    text = f"{what} failed with {status}: {message or response.reason_phrase}"
    lower = message.lower()
    if status == 400:
        return _bad_request(doc, message, text, what=what, details=details)
    if status == 401:
        return ConfigurationError(
            f"{what}: the Console API refused the API key ({message or 'Unauthorized'}); "
            "set MINDS371_CONSOLE_API_KEY to a valid key",
            details=details,
        )
    if status == 402:
        return InsufficientFunds(
            f"{text}; add credits to the Console account or lower the deposit", details=details
        )
    if status == 403:
        return ConfigurationError(
            f"{what}: the API key may not do this ({message})", details=details
        )
    if status == 404:
        return NotFound(text, details=details)
    if status == 409:
        return MarketError(text, details=details)
    if status == 429:
        wait = retry_after_seconds(response.headers.get("retry-after"))
        if wait is not None:
            details["retry_after"] = wait
        return MarketError(text, retryable=True, details=details)
    if status >= 500:
        if any(marker in lower for marker in _MANIFEST_REJECTED):
            return ManifestRejected(text, details=details)
        return MarketError(text, retryable=True, details=details)
    return MarketError(text, details=details)


def gateway_error(response: httpx.Response, *, what: str, provider: str = "") -> Minds371Error:
    """The error for a provider-gateway response with a 4xx/5xx status."""
    status = response.status_code
    message, _ = _body(response)
    details: dict[str, Any] = {
        "status": status,
        "call": what,
        "provider": provider,
        "server_message": message,
    }
    text = f"provider {provider or '?'}: {what} failed with {status}: {message}"
    if status == 422:
        return ManifestRejected(text, details=details)
    if status == 404 and "no lease for deployment" in message.lower():
        return LeaseError(text, retryable=True, details=details)
    if status == 404:
        return NotFound(text, details=details)
    if status in (400, 401, 403):
        return MarketError(f"{text} (provider refused our credentials)", details=details)
    if status == 429:
        wait = retry_after_seconds(response.headers.get("retry-after"))
        if wait is not None:
            details["retry_after"] = wait
        return MarketError(text, retryable=True, details=details)
    return MarketError(text, retryable=status >= 500, details=details)


def is_ambiguous(exc: httpx.HTTPError) -> bool:
    """Whether the request may have reached the server (so a non-idempotent call may have run)."""
    return not isinstance(
        exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.UnsupportedProtocol
    )


def transport_error(exc: httpx.HTTPError, *, what: str, where: str = "") -> MarketError:
    """A retryable :class:`MarketError` for a failure below HTTP (connect, timeout, reset)."""
    return MarketError(
        f"could not reach {where or 'the marketplace'} ({_transport_reason(exc)}); check that "
        "it runs and that this machine can reach it, then try again",
        retryable=True,
        details={
            "call": what,
            "transport": type(exc).__name__,
            "ambiguous": is_ambiguous(exc),
            "cause": str(exc)[:300],
        },
    )


def _transport_reason(exc: httpx.HTTPError) -> str:
    """Why a request did not get an answer, in words (the raw text stays in the details)."""
    text = str(exc).lower()
    if isinstance(exc, httpx.TimeoutException):
        return "no answer in time"
    if "refused" in text or "connect call failed" in text:
        return "connection refused"
    if "name or service not known" in text or "nodename nor servname" in text:
        return "its host name does not resolve"
    if isinstance(exc, httpx.ConnectError):
        return "cannot connect"
    return f"the connection failed: {type(exc).__name__}"
