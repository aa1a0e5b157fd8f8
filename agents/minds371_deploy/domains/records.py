"""The domain's DNS record as saga steps: pointed after the lease, followed, moved, removed.

Steps (each written to the task's saga before the change it guards, so that a crash between
the two leaves the record tracked, and a later attempt, the watcher or a close finds it):

==================  ===========================================================================
``dns.intent``      about to point ``name`` at ``content`` (``type`` A or CNAME, ``proxied``)
``dns.set``         the provider holds that record
``dns.removed``     the record was deleted (``reason``), or handed to the task that replaced
                    this one (``moved``: the new task's record now stands at the name)
==================  ===========================================================================

The target is the lease's own endpoint: for an IP lease (the TLS sidecar), the leased IP, as an
A record; otherwise the provider's ingress host for the service (a ``uris`` entry of the lease
status that is not the domain or another ``accept`` host of the request), as a CNAME. With
several groups (redundancy) the lowest group that serves is the target; when its lease moves
(the watcher re-leases it elsewhere) the record follows.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from minds371.errors import Minds371Error
from minds371.logging import get_logger
from minds371.state import SagaStep, StateStore
from minds371_akash.market import Endpoint
from minds371_deploy._faults import crash_point
from minds371_deploy.domains._provider import DnsProvider, DnsRecord
from minds371_deploy.request import DeploymentRequest

__all__ = [
    "DNS_INTENT",
    "DNS_REMOVED",
    "DNS_SET",
    "DomainState",
    "point_domain",
    "record_for",
    "release_domain",
]

DNS_INTENT = "dns.intent"
DNS_SET = "dns.set"
DNS_REMOVED = "dns.removed"

_log = get_logger("minds371.deploy.dns")


@dataclass(slots=True)
class DomainState:
    """What a task's steps say about its domain's record.

    Attributes:
        name: The name a record may stand at (from the first intent on), until removed.
        record: The record last confirmed set (``type``, ``content``, ``proxied``).
        removed: Why the record went (``None`` while it may stand).
    """

    name: str | None = None
    record: dict[str, Any] | None = None
    removed: str | None = None

    @classmethod
    def from_steps(cls, steps: Sequence[SagaStep]) -> DomainState:
        """Fold a task's ``dns.*`` steps, in order."""
        state = cls()
        for step in steps:
            if step.name == DNS_INTENT:
                state.name, state.removed = str(step.data["name"]), None
            elif step.name == DNS_SET:
                state.record = {k: step.data.get(k) for k in ("type", "content", "proxied")}
            elif step.name == DNS_REMOVED:
                state.removed, state.record = str(step.data.get("reason", "removed")), None
        return state

    @property
    def tracked(self) -> str | None:
        """The name whose record this task still owns, if any."""
        return None if self.removed is not None else self.name


def record_for(
    request: DeploymentRequest, endpoints: Sequence[Endpoint], *, proxied: bool
) -> DnsRecord | None:
    """The record that points ``request.domain`` at these endpoints (None: nothing serves it)."""
    domain, service = request.domain, request.domain_service
    if domain is None or service is None:
        return None
    mine = sorted((e for e in endpoints if e.service == service), key=lambda e: e.gseq)
    # The status lists every host of the service (the provider's own and the accept hosts, in
    # the cluster's list order): the target is one the provider made, never one of ours.
    spec = request.workload
    services = spec.services if spec is not None else ()
    ours = {domain} | {host for s in services for p in s.ports for host in p.accept}
    for endpoint in mine:
        if endpoint.kind == "ip" and _ipv4(urlsplit(endpoint.url).hostname):
            return DnsRecord(domain, "A", str(urlsplit(endpoint.url).hostname), proxied=proxied)
    for endpoint in mine:
        host = urlsplit(endpoint.url).hostname
        if endpoint.kind == "http" and host and host not in ours:
            return DnsRecord(domain, "CNAME", host, proxied=proxied)
    return None


def _ipv4(host: str | None) -> bool:
    # An A record holds IPv4 only (an IPv6 lease would need AAAA, which is not offered).
    try:
        return ipaddress.ip_address(host or "").version == 4
    except ValueError:
        return False


async def point_domain(
    store: StateStore,
    task_id: str,
    dns: DnsProvider,
    record: DnsRecord,
) -> bool:
    """Make ``record`` stand at its name, journaled; returns whether anything changed.

    Raises:
        ConfigurationError, ProviderError: the provider refused or failed (the intent stays
            recorded, so a close still removes whatever may have been written).
    """
    state = DomainState.from_steps(await store.steps(task_id))
    wanted = {"type": record.type, "content": record.content, "proxied": record.proxied}
    if state.tracked == record.name and state.record == wanted:
        return False
    await store.record_step(
        task_id, DNS_INTENT, {"name": record.name, "provider": dns.kind, **wanted}
    )
    crash_point("dns.before_update")
    await dns.upsert(record)
    crash_point("dns.updated")
    await store.record_step(task_id, DNS_SET, {"name": record.name, **wanted})
    return True


async def release_domain(
    store: StateStore,
    task_id: str,
    dns: DnsProvider | None,
    reason: str,
    *,
    moved_to: str | None = None,
) -> str | None:
    """Remove the task's record (its deployment closed), or hand it over.

    Args:
        store: The state store holding the task's saga.
        task_id: The task whose deployment closed or was replaced.
        dns: The DNS provider (``None``: the record cannot be removed now, and stays tracked).
        reason: Why (``failure``, ``closed``, ``ttl``, ``gone``, ``replaced``).
        moved_to: The domain of the task that took this one's place: when it is the same name,
            its record already stands there and is left alone.

    Returns:
        The name released, or ``None`` when the task owned none. A provider that fails is
        logged and the record stays tracked (a later close or ``minds371 reconcile`` tries
        again); the deployment's close stands.
    """
    state = DomainState.from_steps(await store.steps(task_id))
    name = state.tracked
    if name is None:
        return None
    if moved_to == name:
        await store.record_step(task_id, DNS_REMOVED, {"name": name, "reason": "moved"})
        return name
    if dns is None:
        _log.warning("minds371.deploy.dns_not_removed", name=name, reason="no DNS provider")
        return None
    try:
        await dns.delete(name)
    except Minds371Error as exc:  # reported, never raised: the close already happened
        _log.warning("minds371.deploy.dns_remove_failed", name=name, error=exc.message)
        return None
    await store.record_step(task_id, DNS_REMOVED, {"name": name, "reason": reason})
    return name


async def follow_domain(
    store: StateStore,
    task_id: str,
    agent: Any,
    request: DeploymentRequest,
    endpoints: Sequence[Endpoint],
) -> str | None:
    """Point the task's domain at its service's endpoints now (after a failover or re-lease).

    Args:
        store: The state store holding the task's saga.
        task_id: The task whose deployment moved.
        agent: The DeploymentAgent (its DNS provider and TLS mode).
        request: The task's request.
        endpoints: The deployment's endpoints as they are now.

    Returns:
        What changed, in words, or ``None`` when nothing did (no domain, no provider, nothing
        serving yet, or the record already points there).

    Raises:
        ConfigurationError, ProviderError: the DNS provider refused or failed.
    """
    if request.domain is None:
        return None
    dns = agent.dns_provider()
    if dns is None:
        return None
    record = record_for(request, endpoints, proxied=agent._tls_mode(request) == "dns_proxy")
    if record is None or not await point_domain(store, task_id, dns, record):
        return None
    return f"{record.name} now {record.type} {record.content}"
