"""Retiring a closed deployment's registry record, so that discovery stops sending traffic to it.

Every path that closes a deployment calls one of these after the close: a task's failure
compensation, the watcher (a ttl that ran out, an idle time that passed, a deployment found
closed) and ``minds371 close``.
The tombstone is appended only while the name's latest record is of the closed deployment (a name
that moved on keeps serving the new one). The deployment is already closed when these run, so a
registry that cannot be written (no key, a broken ledger) is logged and reported, never raised:
the close itself stands. ``minds371 close`` also removes the DNS record of a request's ``domain``
(:func:`release_domains_of`); the other paths do so where they know the task.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from minds371.errors import Minds371Error
from minds371.logging import get_logger
from minds371_deploy._holders import holders_of, state_path
from minds371_deploy.saga import SagaState

__all__ = ["release_domains_of", "retire_closed", "retire_record"]

_log = get_logger("minds371.deploy.retire")


async def retire_record(
    registry_factory: Callable[[], Any], name: str, dseq: int, reason: str
) -> bool:
    """Append ``name``'s tombstone if its latest record is of deployment ``dseq``.

    Args:
        registry_factory: Opens the registry (the agent's, e.g. ``BlockchainRegistryProvider
            .default``).
        name: The service name the deployment was registered under.
        dseq: The deployment that was closed.
        reason: Why it was closed (``failure``, ``ttl``, ``closed``, ...).

    Returns:
        Whether the name is now retired by a tombstone of this deployment.
    """
    try:
        async with registry_factory() as registry:
            receipt = await registry.retire(name, dseq=dseq, reason=reason)
    except Minds371Error as exc:
        _log.warning(
            "minds371.deploy.retire_failed", name=name, dseq=dseq, reason=reason, error=exc.message
        )
        return False
    return receipt is not None


async def retire_closed(
    dseq: int,
    network: str,
    reason: str = "closed",
    *,
    holders: Sequence[tuple[str, SagaState]] | None = None,
) -> list[str]:
    """Retire every name whose latest record is of deployment ``dseq`` on ``network``.

    For closing a deployment known only by its dseq (``minds371 close``); uses the default
    registry and walks its ledger to find the names. ``holders`` are the tasks of this home
    that hold it, when the caller has read them already (:func:`~._holders.holders_of`).

    Returns:
        The names retired (none when the registry could not be read or written: that is logged,
        and the deployment stays closed).
    """
    await release_domains_of(dseq, network, reason, holders=holders)
    try:
        return await _retire_closed(dseq, network, reason)
    except Minds371Error as exc:
        _log.warning("minds371.deploy.retire_failed", dseq=dseq, network=network, error=exc.message)
        return []


async def release_domains_of(
    dseq: int,
    network: str,
    reason: str = "closed",
    *,
    holders: Sequence[tuple[str, SagaState]] | None = None,
) -> list[str]:
    """Remove the DNS records of the finished tasks (in ``$MINDS371_HOME``) that hold ``dseq``.

    Returns:
        The names whose records were removed (none when there is no state, no DNS provider, or
        it failed: that is logged, and the watcher's next pass tries again).
    """
    from minds371.state import SQLiteStateStore
    from minds371_deploy.domains import dns_provider_from_env
    from minds371_deploy.domains.records import release_domain

    released: list[str] = []
    try:
        if holders is None:
            holders = await holders_of(dseq, network)
        if not holders:
            return []
        dns = dns_provider_from_env()
        async with SQLiteStateStore(state_path(), exclusive=False) as store:
            for task_id, _ in holders:
                name = await release_domain(store, task_id, dns, reason)
                if name is not None:
                    released.append(name)
    except Minds371Error as exc:
        _log.warning("minds371.deploy.dns_remove_failed", dseq=dseq, error=exc.message)
    return released


async def _retire_closed(dseq: int, network: str, reason: str) -> list[str]:
    from minds371_registry import BlockchainRegistryProvider

    # Read-only first: a home that never registered anything must not get a key generated.
    async with BlockchainRegistryProvider.default(read_only=True) as reader:
        if not reader.trusted_signers:
            return []
        names = await reader.names_of_deployment(dseq, network)
    if not names:
        return []
    retired = []
    async with BlockchainRegistryProvider.default() as registry:
        for name in names:
            if await registry.retire(name, dseq=dseq, reason=reason) is not None:
                retired.append(name)
    return retired
