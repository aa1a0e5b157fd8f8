"""Create-once books on a controlled clock: the shared listing's TTL, a recovery's pauses and its
wait for creates in flight, and the trial wallet's create slot.

The listings are real: a Console backend lists the sandbox's deployments. Only time is the
test's: the guard reads it from ``clock`` and pauses with ``sleep``, so every boundary is met
exactly and nothing waits on the wall clock.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from anyio import wait_all_tasks_blocked
from structlog.testing import capture_logs

from minds371.errors import MarketError
from minds371_akash._prepare import prepare_sdl
from minds371_akash.market import ConsoleBackend
from minds371_akash.market._create_guard import CreateGuard, TrialCreateSlot
from minds371_sandbox import SandboxNetwork

from .conftest import sdl
from .test_console_concurrency import HoldListings, console

LISTING = ("GET", "/v1/deployments")
_roots = itertools.count()


class Clock:
    """Time that moves only when told to, or by what a recovery sleeps; sleeps are recorded."""

    def __init__(self, on_sleep: Callable[[list[float]], None] | None = None) -> None:
        self.now = 1000.0
        self.slept: list[float] = []
        self.on_sleep = on_sleep

    def read(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        if self.on_sleep is not None:
            self.on_sleep(self.slept)
        await anyio.lowlevel.checkpoint()


class Setup:
    def __init__(self, net: SandboxNetwork, backend: ConsoleBackend, app: HoldListings) -> None:
        self.net, self.backend, self.app = net, backend, app
        self.version = prepare_sdl(sdl("web")).version

    def guard(self, clock: Clock, *, ttl: float = 10.0, block_time: float | None = 2.0) -> Any:
        # a root of its own per guard: claims and in-flight counts are kept per root
        return CreateGuard(
            f"{self.net.base_url}#{next(_roots)}",
            self.backend.list_deployments,
            snapshot_ttl=ttl,
            block_time=block_time,
            clock=clock.read,
            sleep=clock.sleep,
        )

    async def create(self) -> int:
        prepared = prepare_sdl(sdl("web"))
        created = await self.backend.create_deployment(
            prepared.sdl, version=prepared.version, manifest=prepared.manifest
        )
        return created.dseq


@asynccontextmanager
async def sandbox() -> AsyncIterator[Setup]:
    async with SandboxNetwork(block_time=0.05) as net:
        async with console(net) as (backend, app):
            yield Setup(net, backend, app)


# -- the shared listing --------------------------------------------------------------------------


async def test_a_listing_is_refreshed_from_exactly_half_its_ttl():
    async with sandbox() as s:
        clock = Clock()
        guard = s.guard(clock, ttl=10.0)
        await guard.existing(s.version)
        assert s.app.seen[LISTING] == 1
        clock.now += 4.0  # past a third, short of half: the listing serves as it is
        await guard.existing(s.version)
        assert s.app.seen[LISTING] == 1
        clock.now += 1.0  # half the TTL: the first caller takes a new listing
        await guard.existing(s.version)
        assert s.app.seen[LISTING] == 2
        clock.now += 4.9  # the new listing was taken at half the TTL: it is fresh again
        await guard.existing(s.version)
        assert s.app.seen[LISTING] == 2


async def test_at_its_ttl_a_listing_is_expired_and_creates_wait_for_the_next():
    async with sandbox() as s:
        clock = Clock()
        guard = s.guard(clock, ttl=10.0)
        assert await guard.existing(s.version) == frozenset()
        made = await s.create()  # after the guard's listing: that listing does not show it
        clock.now += 10.0
        s.app.hold = True
        seen: dict[str, frozenset[int]] = {}

        async def look(who: str) -> None:
            seen[who] = await guard.existing(s.version)

        async with anyio.create_task_group() as tg:
            tg.start_soon(look, "refreshing")
            with anyio.fail_after(5):
                await s.app.held.wait()  # its new listing is held on the server
            tg.start_soon(look, "waiting")
            await wait_all_tasks_blocked()
            assert seen == {}  # the expired listing is not served, not even meanwhile
            s.app.release.set()
        assert seen == {"refreshing": frozenset({made}), "waiting": frozenset({made})}


async def test_creates_waiting_on_a_listing_slower_than_its_ttl_are_served_by_it():
    async with sandbox() as s:
        clock = Clock()
        guard = s.guard(clock, ttl=1.0)
        made = await s.create()  # (the backend's own create lists the account once)
        listings = s.app.seen[LISTING]
        s.app.hold = True
        seen: dict[str, frozenset[int]] = {}

        async def look(who: str) -> None:
            seen[who] = await guard.existing(s.version)

        async with anyio.create_task_group() as tg:
            tg.start_soon(look, "first")
            with anyio.fail_after(5):
                await s.app.held.wait()  # the one listing is held on the server
            for n in range(5):
                tg.start_soon(look, f"waiting {n}")
            await wait_all_tasks_blocked()
            clock.now += 3.0  # the listing lands long after its TTL (a loaded server)
            s.app.release.set()
        # one listing for the six creates, not one each
        assert s.app.seen[LISTING] == listings + 1
        assert set(seen.values()) == {frozenset({made})} and len(seen) == 6


async def test_an_early_refresh_that_fails_once_the_listing_expired_is_raised():
    async with sandbox() as s:
        clock = Clock()
        guard = s.guard(clock, ttl=10.0)
        await guard.existing(s.version)
        clock.now += 7.0  # valid, past half: this call refreshes
        s.app.hold = s.app.fail_listings = True
        failed: list[BaseException] = []

        async def look() -> None:
            try:
                await guard.existing(s.version)
            except MarketError as exc:
                failed.append(exc)

        with capture_logs() as logs:
            async with anyio.create_task_group() as tg:
                tg.start_soon(look)
                with anyio.fail_after(5):
                    await s.app.held.wait()
                clock.now += 3.0  # the listing reaches its TTL while the refresh is under way
                s.app.release.set()
        assert len(failed) == 1
        assert not [e for e in logs if e["event"] == "minds371.akash.snapshot_refresh_failed"]


# -- a recovery's pauses and its wait for creates in flight --------------------------------------


async def test_a_recovery_looks_again_one_and_three_blocks_after_a_timeout_only():
    async with sandbox() as s:
        clock = Clock()
        guard = s.guard(clock, block_time=2.0)
        assert await guard.recover(s.version, frozenset(), timed_out=True) is None
        assert clock.slept == [0.0, 2.0, 6.0]
        clock.slept.clear()
        assert await guard.recover(s.version, frozenset(), timed_out=False) is None
        assert clock.slept == [0.0]  # after a 5xx the server has finished: one look


async def test_without_a_known_block_time_a_recovery_assumes_six_seconds():
    async with sandbox() as s:
        clock = Clock()
        guard = s.guard(clock, block_time=None)
        assert await guard.recover(s.version, frozenset(), timed_out=True) is None
        assert clock.slept == [0.0, 6.0, 18.0]


async def test_a_recovery_polls_every_10_ms_until_no_create_is_in_flight():
    async with sandbox() as s:
        in_flight: Any = None

        def finish_after_three_polls(slept: list[float]) -> None:
            if slept.count(0.01) == 3:
                in_flight.__exit__(None, None, None)

        clock = Clock(finish_after_three_polls)
        guard = s.guard(clock)
        in_flight = guard.attempt(s.version.upper())  # versions compare without case
        in_flight.__enter__()
        made = await s.create()
        found = await guard.recover(s.version, frozenset(), timed_out=False)
        assert clock.slept == [0.0, 0.01, 0.01, 0.01]
        assert found is not None and found.dseq == made


async def test_a_recovery_waits_at_most_a_minute_for_a_create_in_flight():
    async with sandbox() as s:
        clock = Clock()
        guard = s.guard(clock)
        stuck = guard.attempt(s.version)
        stuck.__enter__()
        try:
            assert await guard.recover(s.version, frozenset(), timed_out=False) is None
        finally:
            stuck.__exit__(None, None, None)
        assert clock.slept == [0.0] + [0.01] * 6000


async def test_a_recovery_with_no_create_in_flight_does_not_poll():
    async with sandbox() as s:
        clock = Clock()
        guard = s.guard(clock)  # this root never saw a create: nothing is in flight
        assert await guard.recover(s.version, frozenset(), timed_out=False) is None
        assert clock.slept == [0.0]


async def test_claims_are_kept_per_api_root():
    async with sandbox() as s:
        clock = Clock()
        one, other = s.guard(clock), s.guard(clock)
        made = await s.create()
        first = await one.recover(s.version, frozenset(), timed_out=False)
        assert first is not None and first.dseq == made
        assert await one.recover(s.version, frozenset(), timed_out=False) is None  # claimed
        again = await other.recover(s.version, frozenset(), timed_out=False)
        assert again is not None and again.dseq == made


# -- the trial wallet's create slot --------------------------------------------------------------


def slot(clock: Clock, max_hold: float = 60.0) -> TrialCreateSlot:
    return TrialCreateSlot(max_hold, clock=clock.read)


async def test_the_slot_is_shared_per_api_root_and_wallet():
    root = f"http://slot.test/{next(_roots)}"
    shared = TrialCreateSlot.for_wallet(root, "wallet-a", 30.0)
    assert TrialCreateSlot.for_wallet(root, "wallet-a", 99.0) is shared
    assert shared.max_hold == 30.0
    assert TrialCreateSlot.for_wallet(root, "wallet-b", 30.0) is not shared
    assert TrialCreateSlot.for_wallet(root + "/other", "wallet-a", 30.0) is not shared


async def test_a_create_waits_for_the_bound_deployment_to_release_the_slot():
    clock = Clock()
    trial = slot(clock)
    got: list[str] = []

    async def acquire(who: str) -> None:
        await trial.acquire()
        got.append(who)

    with capture_logs() as logs, anyio.fail_after(5):
        await trial.acquire()
        assert trial.held_by is None  # held, not yet bound
        trial.bind(7)
        assert trial.held_by == 7
        async with anyio.create_task_group() as tg:
            tg.start_soon(acquire, "second")
            await wait_all_tasks_blocked()
            trial.release(8)  # another deployment's lease does not free it
            await wait_all_tasks_blocked()
            assert got == [] and trial.held_by == 7
            trial.release(7)
        assert got == ["second"]
        assert trial.held_by is None  # the new holder has not bound its deployment yet
        trial.bind(9)
        trial.release()  # a failed create releases without a dseq
        assert trial.held_by is None
        await trial.acquire()  # free: taken at once
    assert logs == []


async def test_waiting_creates_take_the_slot_one_after_another():
    clock = Clock()
    trial = slot(clock)
    order: list[str] = []

    async def create(who: str) -> None:
        await trial.acquire()
        order.append(who)

    with capture_logs() as logs, anyio.fail_after(5):
        await trial.acquire()
        async with anyio.create_task_group() as tg:
            tg.start_soon(create, "b")
            tg.start_soon(create, "c")
            await wait_all_tasks_blocked()
            for expected in (["b"], ["b", "c"]):
                trial.release()
                await wait_all_tasks_blocked()
                assert order == expected
    assert logs == []


async def test_a_holder_that_never_lets_go_loses_the_slot_at_max_hold():
    clock = Clock()
    trial = slot(clock, max_hold=60.0)
    with capture_logs() as logs, anyio.fail_after(5):
        await trial.acquire()
        trial.bind(7)
        clock.now += 60.0  # exactly the longest hold
        await trial.acquire()
        assert trial.held_by is None  # the new holder's, unbound
        assert logs == [
            {"event": "minds371.akash.trial_slot_taken_over", "log_level": "warning", "dseq": 7}
        ]
        # the new holder holds from now: a third create waits for it as for any holder
        clock.now += 10.0
        third = anyio.Event()

        async def acquire() -> None:
            await trial.acquire()
            third.set()

        async with anyio.create_task_group() as tg:
            tg.start_soon(acquire)
            await wait_all_tasks_blocked()
            assert not third.is_set()
            trial.release()
    assert len(logs) == 1


@pytest.mark.parametrize("held_for", [0.0, 59.5])
async def test_a_holder_keeps_the_slot_short_of_max_hold(held_for: float):
    clock = Clock()
    trial = slot(clock, max_hold=60.0)
    with capture_logs() as logs, anyio.fail_after(5):
        await trial.acquire()
        trial.bind(7)
        clock.now += held_for
        async with anyio.create_task_group() as tg:
            tg.start_soon(trial.acquire)
            await wait_all_tasks_blocked()
            assert trial.held_by == 7
            trial.release(7)
    assert logs == []


async def test_the_slot_is_taken_over_on_the_event_loops_clock_by_default():
    # No clock given: a short max_hold passes on the loop's own clock while the holder sleeps.
    trial = TrialCreateSlot(0.05)
    with capture_logs() as logs, anyio.fail_after(5):
        await trial.acquire()
        trial.bind(3)
        await trial.acquire()
    assert [e["event"] for e in logs] == ["minds371.akash.trial_slot_taken_over"]
