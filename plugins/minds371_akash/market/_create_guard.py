"""Creating a deployment at most once on an API that picks the dseq itself (Console).

A create that fails ambiguously (a timeout, a reset, a 5xx once the request may have been
processed) may still have made a deployment. Before a create, :class:`CreateGuard` notes which
active deployments of the same manifest version already exist; after an ambiguous failure it
looks for one that did not, and adopts it instead of creating a second. Within one process every
create claims its dseq before it counts as finished, and a recovery waits until no create of the
same version is in flight, so concurrent creates never adopt each other's deployments.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import ClassVar

import anyio

from minds371.errors import ProviderError
from minds371.logging import get_logger
from minds371_akash.market._models import Deployment

__all__ = ["CreateGuard", "TrialCreateSlot"]

_log = get_logger("minds371.akash.console")

ListActive = Callable[[], Awaitable[list[Deployment]]]
ListVersions = Callable[[], Awaitable[list[tuple[int, str]]]]


class _Refresh:
    """A listing in flight, begun at ``started``.

    ``done`` is set when it ends, with its ``versions`` or its ``failure``.
    """

    def __init__(self, started: float) -> None:
        self.started = started
        self.done = anyio.Event()
        self.versions: dict[str, frozenset[int]] | None = None
        self.failure: ProviderError | None = None


class CreateGuard:
    """The books that let a backend create each deployment at most once (see module docs).

    Args:
        base_url: The API root; claims and in-flight counts are shared per root by every guard
            in the process.
        list_active: Lists the account's active deployments.
        list_versions: Lists their ``(dseq, manifest version)`` only, which is all a snapshot
            needs (default: from ``list_active``).
        snapshot_ttl: Seconds one listing serves the creates that follow it.
        block_time: The network's block time (how long to keep looking after a timeout).
        clock: Reads the time in seconds (the event loop's clock by default).
        sleep: Pauses a recovery (``anyio.sleep`` by default).
    """

    # dseqs adopted or created in this process, per API root.
    _claimed: ClassVar[dict[str, set[int]]] = {}
    # creates in flight per (API root, manifest version): a recovery waits for them to finish.
    _inflight: ClassVar[dict[tuple[str, str], int]] = {}

    def __init__(
        self,
        base_url: str,
        list_active: ListActive,
        *,
        list_versions: ListVersions | None = None,
        snapshot_ttl: float,
        block_time: float | None,
        clock: Callable[[], float] = anyio.current_time,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        self._base_url = base_url
        self._list_active = list_active
        self._list_versions = list_versions or self._versions_of_active
        self._ttl = snapshot_ttl
        self._block_time = block_time
        self._clock = clock
        self._sleep = sleep
        # One listing of the whole account, by manifest version: every create in a burst
        # carries a version of its own (its task's marker), so a listing per version would
        # cost one account-wide listing per create.
        self._snapshot: tuple[float, dict[str, frozenset[int]]] | None = None
        self._refreshing: _Refresh | None = None

    @property
    def _claims(self) -> set[int]:
        return self._claimed.setdefault(self._base_url, set())

    @contextmanager
    def attempt(self, version: str) -> Iterator[None]:
        """Count one create of ``version`` as in flight while the block runs."""
        key = (self._base_url, version.lower())
        self._inflight[key] = self._inflight.get(key, 0) + 1
        try:
            yield
        finally:
            self._inflight[key] -= 1

    def claim(self, dseq: int) -> None:
        """Mark ``dseq`` as made here (call it inside :meth:`attempt`, before it ends)."""
        self._claims.add(dseq)

    async def existing(self, version: str) -> frozenset[int]:
        """Active deployments of ``version`` before a create, from a listing shared by creates.

        Listing every deployment before every create is costly under load, so one listing of
        the account serves all creates for ``snapshot_ttl`` seconds. That is safe within this
        process (its own creates are claimed); against another process creating the same
        version at the same moment it widens an already existing window by at most the TTL.

        Past half its TTL the first caller takes a new listing while the others keep using the
        current one, so creates wait for a listing only when none is valid (at the start, or
        after a pause), never all behind one refresh.
        """
        return (await self._versions()).get(version.lower(), frozenset())

    async def _versions(self) -> dict[str, frozenset[int]]:
        while True:
            cached = self._snapshot
            valid = cached is not None and self._age(cached) < self._ttl
            refresh = self._refreshing
            if cached is not None and valid:
                if self._age(cached) < self._ttl / 2 or refresh is not None:
                    return cached[1]
                try:
                    return await self._take()
                except ProviderError as exc:
                    if self._age(cached) >= self._ttl:
                        raise
                    # The current listing is still valid: a failed early refresh costs nothing.
                    _log.warning("minds371.akash.snapshot_refresh_failed", error=exc.message)
                    return cached[1]
            if refresh is None:
                return await self._take()
            # Single flight: a create that finds a listing in flight, begun less than a TTL ago,
            # is served by it when it lands, even if the listing took longer than the TTL (under
            # load it may): asking again would start one listing per waiting create.
            joined = self._clock() - refresh.started < self._ttl
            await refresh.done.wait()
            if refresh.failure is not None:
                raise refresh.failure  # the listing every waiting create depended on failed
            if joined and refresh.versions is not None:
                return refresh.versions
            # else loop: that listing was too old to join; take or join a newer one

    async def recover(
        self, version: str, before: frozenset[int], *, timed_out: bool
    ) -> Deployment | None:
        """Find a deployment of ``version`` that a failed create may have made, and claim it.

        Waits until no other create of the same version is in flight in this process (each
        claims its dseq before finishing), then adopts an unclaimed deployment that did not exist
        before the call. After a 5xx the server has finished; after a timeout it may still be
        working, so it looks again a block and three blocks later.
        """
        key = (self._base_url, version.lower())
        block = self._block_time or 6.0
        pauses = (0.0, block, 3 * block) if timed_out else (0.0,)
        for pause in pauses:
            await self._sleep(pause)
            for _ in range(6000):  # at most a minute; a POST times out well before
                if self._inflight.get(key, 0) == 0:
                    break
                await self._sleep(0.01)
            try:
                listed = [d for d in await self._list_active() if d.version == key[1]]
            except ProviderError:
                continue
            # Filter after the await: a concurrent recovery may have claimed one meanwhile.
            claims = self._claims
            found = [d for d in listed if d.dseq not in before and d.dseq not in claims]
            if found:
                chosen = min(found, key=lambda d: d.dseq)
                claims.add(chosen.dseq)
                return chosen
        return None

    async def _versions_of_active(self) -> list[tuple[int, str]]:
        return [(d.dseq, d.version) for d in await self._list_active()]

    def _age(self, snapshot: tuple[float, dict[str, frozenset[int]]]) -> float:
        return self._clock() - snapshot[0]

    async def _take(self) -> dict[str, frozenset[int]]:
        taken = self._clock()
        refresh = self._refreshing = _Refresh(taken)
        try:
            by_version: dict[str, set[int]] = {}
            for dseq, version in await self._list_versions():
                by_version.setdefault(version, set()).add(dseq)
            versions = {version: frozenset(dseqs) for version, dseqs in by_version.items()}
            self._snapshot = (taken, versions)
            refresh.versions = versions
            return versions
        except ProviderError as exc:
            refresh.failure = exc
            raise
        finally:
            self._refreshing = None
            refresh.done.set()


class TrialCreateSlot:
    """One create at a time on a trial wallet, held from the create until its lease.

    On a trialing wallet every Console create first closes the wallet's open deployments that
    have no lease yet (``deployment-writer.service.ts`` ``reclaimTrialOrphanedDeployments``),
    so a create landing while another deployment of the same wallet still waits for bids would
    cancel it. The slot serializes them: :meth:`acquire` before a create, :meth:`bind` once its
    dseq is known, :meth:`release` when that deployment has a lease or was closed (or the
    create failed). A holder that never lets go (a stuck task) loses the slot after
    ``max_hold`` seconds, so one failure cannot stop every later create.

    Slots are shared per API root and wallet within the process (:meth:`for_wallet`). ``clock``
    reads the time in seconds (the event loop's clock by default).
    """

    _slots: ClassVar[dict[tuple[str, str], TrialCreateSlot]] = {}

    def __init__(self, max_hold: float, *, clock: Callable[[], float] = anyio.current_time) -> None:
        self.max_hold = max_hold
        self._clock = clock
        self._held = False
        self._since = 0.0
        self._dseq: int | None = None
        self._released: anyio.Event | None = None

    @classmethod
    def for_wallet(cls, base_url: str, wallet: str, max_hold: float) -> TrialCreateSlot:
        """The process's slot for ``wallet`` (an opaque key naming it) on ``base_url``."""
        slot = cls._slots.get((base_url, wallet))
        if slot is None:
            slot = cls._slots[(base_url, wallet)] = cls(max_hold)
        return slot

    @property
    def held_by(self) -> int | None:
        """The dseq holding the slot, once bound."""
        return self._dseq if self._held else None

    async def acquire(self) -> None:
        """Wait until no other create of this wallet is between its create and its lease."""
        while self._held:
            if self._released is None:
                self._released = anyio.Event()
            left = self._since + self.max_hold - self._clock()
            if left <= 0:
                _log.warning("minds371.akash.trial_slot_taken_over", dseq=self._dseq)
                break
            with anyio.move_on_after(left):
                await self._released.wait()
        self._held = True
        self._since = self._clock()
        self._dseq = None
        self._released = anyio.Event()

    def bind(self, dseq: int) -> None:
        """Name the deployment whose lease (or close) will release the slot."""
        self._dseq = dseq

    def release(self, dseq: int | None = None) -> None:
        """Let the next create go (only for the bound ``dseq``, when one is given)."""
        if not self._held or (dseq is not None and dseq != self._dseq):
            return
        self._held = False
        self._dseq = None
        if self._released is not None:
            self._released.set()
