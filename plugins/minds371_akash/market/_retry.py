"""Declarative retries for calls that are safe to repeat.

Retry intent travels on the error (:attr:`ProviderError.retryable`); the policy only says how
often and how long to wait. Only idempotent calls go through :func:`retry_call`: creating a
deployment does not (Console picks the dseq), see
:meth:`~minds371_akash.market.console.ConsoleBackend.create_deployment`.

Tests switch backoff off with :func:`set_testing` (attempts stay, sleeping goes), as stamina does.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import anyio

from minds371.errors import ProviderError
from minds371.logging import get_logger

__all__ = ["RetryPolicy", "is_testing", "retry_call", "set_testing"]

T = TypeVar("T")

_log = get_logger("minds371.akash.retry")
_testing = False


def set_testing(on: bool) -> None:
    """Turn backoff sleeps off (``on=True``) or back on, process-wide; attempts are unchanged."""
    global _testing
    _testing = on


def is_testing() -> bool:
    """Whether :func:`set_testing` turned backoff off."""
    return _testing


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How to retry a retryable failure.

    Attributes:
        initial_interval: Seconds before the first retry.
        backoff_coefficient: Multiplier for each later wait.
        maximum_interval: Upper bound of one wait (a server's ``Retry-After`` may exceed it up
            to ``maximum_retry_after``).
        maximum_attempts: Attempts in all, the first included (1 = no retries).
        maximum_retry_after: Longest ``Retry-After`` honoured; beyond it the error is raised.
        jitter: Fraction of each wait randomised, so that many clients do not retry in step.
    """

    initial_interval: float = 0.2
    backoff_coefficient: float = 2.0
    maximum_interval: float = 5.0
    maximum_attempts: int = 6
    maximum_retry_after: float = 60.0
    jitter: float = 0.2

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        if _testing:
            return 0.0
        if retry_after is not None:
            return max(0.0, retry_after)
        base = self.initial_interval * self.backoff_coefficient ** (attempt - 1)
        base = min(base, self.maximum_interval)
        return base * (1 + self.jitter * (2 * random.random() - 1))  # jitter, not crypto


NO_RETRY = RetryPolicy(maximum_attempts=1)


async def retry_call(
    policy: RetryPolicy,
    call: Callable[[], Awaitable[T]],
    *,
    what: str,
) -> T:
    """Await ``call()``; retry while it raises a retryable :class:`ProviderError`.

    Args:
        policy: Attempts and backoff.
        call: A zero-argument coroutine function that is safe to repeat.
        what: A short name for logs (``"GET /v1/bids"``).

    Raises:
        ProviderError: the last failure once attempts are spent, or the first non-retryable one.
    """
    attempt = 1
    while True:
        try:
            return await call()
        except ProviderError as exc:
            retry_after = exc.details.get("retry_after")
            too_long = retry_after is not None and float(retry_after) > policy.maximum_retry_after
            if not exc.retryable or attempt >= policy.maximum_attempts or too_long:
                raise
            wait = policy.delay(attempt, float(retry_after) if retry_after is not None else None)
            _log.info(
                "minds371.akash.retry_scheduled",
                call=what,
                attempt=attempt,
                wait=round(wait, 3),
                caused_by=exc.message[:200],
            )
            attempt += 1
            await anyio.sleep(wait)
