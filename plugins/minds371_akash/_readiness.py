"""Waiting for leases to become ready, and checking the health of a running deployment.

:class:`ReadinessWatch` polls a deployment each half block until every service of every wanted
group is ready, and fails early, with a diagnosis, when the evidence is conclusive: a lease or
the deployment closed, the provider went offline, the image cannot be pulled, the container
crash-loops. :func:`check_health` does the same checks once, for a watcher of running
deployments.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from contextlib import aclosing

import anyio
from pydantic import BaseModel, ConfigDict

from minds371.errors import InsufficientFunds, LeaseError, MarketError, ProviderError
from minds371.logging import get_logger
from minds371_akash.diagnose import (
    Diagnosis,
    attach,
    diagnose_insufficient_funds,
    diagnose_not_ready,
    diagnose_provider_offline,
    diagnose_unreachable,
    is_conclusive,
    probe_endpoints,
)
from minds371_akash.market import Deployment, KubeEvent, Lease, LeaseStatus, MarketBackend

__all__ = ["DeploymentNotReady", "HealthReport", "ReadinessWatch", "check_health"]

Emit = Callable[..., Awaitable[None]]
_log = get_logger("minds371.akash.readiness")
_OFFLINE_AFTER = 3  # polls in a row without status before asking whether the provider is up


class DeploymentNotReady(MarketError):
    """Services did not become ready (image pull failure, crash loop, or timeout)."""


class HealthReport(BaseModel):
    """The health of a running deployment's groups.

    Attributes:
        dseq: The deployment.
        healthy: Gseqs whose lease is active and ready.
        problems: Per unhealthy gseq, the diagnosis.
    """

    model_config = ConfigDict(frozen=True)

    dseq: int
    healthy: tuple[int, ...]
    problems: dict[int, Diagnosis]


def _latest(deployment: Deployment, gseq: int) -> Lease | None:
    leases = [lease for lease in deployment.leases if lease.id.gseq == gseq]
    return max(leases, key=lambda lease: (lease.id.oseq, lease.created_at), default=None)


def _closed_error(deployment: Deployment, lease: Lease | None, gseq: int) -> MarketError:
    reason = lease.reason if lease is not None else ""
    state = lease.state if lease is not None else ""
    provider = lease.id.provider if lease is not None else "?"
    text = (
        f"deployment {deployment.dseq}: the lease of gseq {gseq} on {provider} is "
        f"{state or 'gone'}{f' ({reason})' if reason else ''}"
    )
    if not deployment.active:
        text += "; the deployment is closed"
    escrow = deployment.escrow
    if "insufficient_funds" in (state + reason) or (escrow and escrow.state == "overdrawn"):
        return attach(InsufficientFunds(text), diagnose_insufficient_funds(text))
    return attach(LeaseError(text), diagnose_provider_offline(provider, text))


class ReadinessWatch:
    """Poll one deployment until the wanted groups are ready (see module docs).

    Args:
        backend: The marketplace.
        dseq: The deployment.
        gseqs: The groups that must be ready.
        timeout: Seconds before giving up with a diagnosis.
        poll: Returns the seconds to wait between polls.
        emit: Progress events (``service.ready``).
        probe: HTTP-probe the endpoints once ready.
        observed: A view of the deployment taken just now (the lease response): checked as the
            first poll, so the first request goes out one interval later.
    """

    def __init__(
        self,
        backend: MarketBackend,
        dseq: int,
        gseqs: Sequence[int],
        *,
        timeout: float,
        poll: Callable[[], Awaitable[float]],
        emit: Emit,
        probe: bool = False,
        observed: Deployment | None = None,
    ) -> None:
        self.backend = backend
        self.dseq = dseq
        self.gseqs = tuple(gseqs)
        self.timeout = timeout
        self.poll = poll
        self.emit = emit
        self.probe = probe
        self._observed = observed
        self._no_status: dict[int, int] = {}
        self._ready: set[str] = set()

    async def run(self) -> Deployment:
        """Return the deployment once ready; raise with a diagnosis otherwise."""
        start = anyio.current_time()
        events_every = max(1.0, 8 * await self.poll())
        next_events = start + events_every
        deployment = self._observed
        if deployment is not None:
            # A view just taken (the lease response) is the first poll: asking again at once
            # would only repeat it, one request per deployment.
            if await self._check(deployment):
                return deployment
            await anyio.sleep(await self.poll())
        while True:
            try:
                deployment = await self.backend.get_deployment(self.dseq)
            except ProviderError as exc:
                if not exc.retryable:
                    raise
            else:
                if await self._check(deployment):
                    return deployment
            now = anyio.current_time()
            if now - start >= self.timeout:
                break
            if deployment is not None and now >= next_events:
                next_events = now + events_every
                events = await self._events(deployment)
                if is_conclusive(events):
                    raise self._not_ready(deployment, events)
            await anyio.sleep(await self.poll())
        events = await self._events(deployment) if deployment is not None else []
        raise self._not_ready(deployment, events)

    async def _check(self, deployment: Deployment) -> bool:
        statuses: dict[int, LeaseStatus | None] = {}
        for gseq in self.gseqs:
            lease = _latest(deployment, gseq)
            if lease is None or not lease.active or not deployment.active:
                raise _closed_error(deployment, lease, gseq)
            statuses[gseq] = lease.status
            if lease.status is None:
                self._no_status[gseq] = self._no_status.get(gseq, 0) + 1
                if self._no_status[gseq] >= _OFFLINE_AFTER:
                    await self._check_provider(lease)
                continue
            self._no_status[gseq] = 0
            for svc in lease.status.services.values():
                key = f"{gseq}/{svc.name}"
                if svc.ready and key not in self._ready:
                    self._ready.add(key)
                    await self.emit(
                        "service.ready",
                        f"{svc.name} ready ({svc.available}/{svc.total}) on {lease.id.provider}",
                        dseq=self.dseq,
                        gseq=gseq,
                        service=svc.name,
                    )
        if not all(s is not None and s.ready for s in statuses.values()):
            return False
        if self.probe:
            endpoints = deployment.endpoints()
            problems = await probe_endpoints(endpoints)
            http = [e for e in endpoints if e.kind == "http"]
            if http and len(problems) == len(http):
                raise attach(
                    MarketError(f"deployment {self.dseq} is ready but no endpoint answers"),
                    diagnose_unreachable(problems),
                )
        return True

    async def _check_provider(self, lease: Lease) -> None:
        try:
            provider = await self.backend.get_provider(lease.id.provider)
        except ProviderError:
            return
        if not provider.online:
            text = f"provider {lease.id.provider} of gseq {lease.id.gseq} is offline"
            raise attach(
                LeaseError(text, retryable=True, details={"provider": lease.id.provider}),
                diagnose_provider_offline(lease.id.provider, text),
            )

    async def _events(self, deployment: Deployment) -> list[KubeEvent]:
        found: list[KubeEvent] = []
        for lease in deployment.active_leases:
            if lease.id.gseq not in self.gseqs:
                continue
            try:
                with anyio.fail_after(max(2.0, 4 * await self.poll())):
                    stream = self.backend.lease_events(lease.id)
                    async with aclosing(stream):
                        async for event in stream:
                            found.append(event)
            except (ProviderError, TimeoutError) as exc:
                _log.info("minds371.akash.events_unavailable", dseq=self.dseq, error=repr(exc))
        return found

    def _not_ready(self, deployment: Deployment | None, events: list[KubeEvent]) -> MarketError:
        statuses: dict[int, LeaseStatus | None] = {}
        if deployment is not None:
            for gseq in self.gseqs:
                lease = _latest(deployment, gseq)
                statuses[gseq] = lease.status if lease is not None else None
        diagnosis = diagnose_not_ready(statuses, events, timeout=self.timeout)
        error = DeploymentNotReady(
            f"deployment {self.dseq}: {diagnosis.summary}",
            details={"dseq": self.dseq},
        )
        attach(error, diagnosis)
        return error


async def check_health(backend: MarketBackend, dseq: int, gseqs: Sequence[int]) -> HealthReport:
    """Check once whether each group's lease is active, ready and its provider online."""
    deployment = await backend.get_deployment(dseq)
    healthy: list[int] = []
    problems: dict[int, Diagnosis] = {}
    for gseq in gseqs:
        lease = _latest(deployment, gseq)
        if lease is None or not lease.active or not deployment.active:
            error = _closed_error(deployment, lease, gseq)
            problems[gseq] = Diagnosis.model_validate(error.details["diagnosis"])
            continue
        if lease.status is None or not lease.status.ready:
            online = True
            try:
                online = (await backend.get_provider(lease.id.provider)).online
            except ProviderError:
                online = lease.status is not None
            if not online or lease.status is None:
                problems[gseq] = diagnose_provider_offline(
                    lease.id.provider, "no lease status from the provider"
                )
            else:
                problems[gseq] = diagnose_not_ready({gseq: lease.status}, [], timeout=0)
            continue
        healthy.append(gseq)
    return HealthReport(dseq=dseq, healthy=tuple(healthy), problems=problems)
