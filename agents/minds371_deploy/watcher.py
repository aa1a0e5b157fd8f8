"""The watcher: keeps registered deployments leased, and discovery pointed at live endpoints.

Every ``watch_interval`` seconds it looks at each deployment a finished deployment task holds
open and, for each placement group:

* a lease that closed (the provider closed it, or it ran out of funds while the deployment
  lives on): Akash reopens the group's order; the watcher re-bids and re-leases it on another
  provider (:meth:`~minds371_akash.AkashIntegrationProvider.relet_group`);
* a provider unreachable for longer than ``offline_grace``: the watcher closes that lease when the
  network lets an owner close one lease (the ``cli`` network, ``MsgCloseLease``) and re-leases
  the group; where it does not (the Console API has no such route), the group is reported
  degraded and left to the other groups;
* a deployment past its request's ``ttl``, or whose ``idle`` probe has shown no activity for
  ``idle.after``, is closed and its record retired; one engine decides both
  (:mod:`.lifetime`), and the idle timer is journaled so that a restarted watcher keeps it;
* on Console, where redundancy is one deployment per replica (see :mod:`.redundancy`), each
  replica's deployment is watched the same way and re-leased on its own;
* every deployment's escrow is kept funded within the request's budget (:mod:`._top_up`):
  Console's auto top-up where the network has it, the watcher's own deposits elsewhere.

After any change it publishes the next registry record with the endpoints of the leases that
are up, so discovery keeps answering; a request's ``domain`` record follows a re-lease, and is
removed when the deployment closes (:mod:`.domains.records`). Each action is also a step of
the task's saga, written once.

A pass lists each network's deployments once and reads a deployment in full (with its leases'
live status) only when something changed or its last full read is older than half the offline
grace (:mod:`._views`), so a quiet pass over a thousand deployments costs a few listing pages.

A pass is bounded: a re-lease waits at most ``relet_bid_wait`` for bids (not the deploy's
``bid_timeout``); with no acceptable bid by then the group is reported ``waiting`` and tried again
on the next pass, when the bids that arrived meanwhile count. Passes over one store never overlap:
a second caller while one runs (``watch --once`` next to the runtime's own watcher service) gets
that pass's actions instead of re-leasing the same group again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio

from minds371.errors import Minds371Error, NoBidsError
from minds371.logging import get_logger
from minds371.state import StateStore, TaskRecord
from minds371.tasks import AgentType, TaskStatus
from minds371_akash import AkashIntegrationProvider
from minds371_akash.market import Deployment, Lease, NotFound
from minds371_deploy._idle_probe import IdleProbe, ProbeFailed, read_counters
from minds371_deploy._probe import routes_for_network
from minds371_deploy._retire import retire_record
from minds371_deploy._top_up import AUTO_TOP_UP, keep_funded
from minds371_deploy._views import DeploymentViews
from minds371_deploy.building.journal import as_deployed
from minds371_deploy.domains.records import follow_domain, release_domain
from minds371_deploy.lifetime import IDLE_SEEN, CloseNow, IdleState, LifetimePolicy
from minds371_deploy.replicas import replica_sdl
from minds371_deploy.request import DeploymentRequest, parse_request
from minds371_deploy.saga import CLOSED, REPLICA_CLOSED, SagaState
from minds371_deploy.update import recorded_plan

__all__ = ["DeploymentWatcher", "WatchAction"]

_log = get_logger("minds371.deploy.watcher")
RELET = "deployment.relet"
#: The longest a re-lease waits for bids in one pass, unless the deploy's bid timeout is shorter.
RELET_BID_WAIT = 30.0


@dataclass(frozen=True, slots=True)
class WatchAction:
    """Something the watcher did (or could not do) for one deployment."""

    task_id: str
    dseq: int
    # relet | waiting | degraded | closed | gone | expired | idle | idle_probe_failed | error
    # | top_up | auto_top_up | topup_refused | dns
    kind: str
    detail: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Pass:
    done: anyio.Event = field(default_factory=anyio.Event)
    actions: list[WatchAction] | None = None


# The pass in progress over each state store, by the store's id (a store is one runtime's: one
# process, one event loop); an entry lives only while its pass runs.
_passes: dict[int, _Pass] = {}


class DeploymentWatcher:
    """Watches the deployments of finished deployment tasks (see module docs).

    Args:
        agent: The runtime's DeploymentAgent (its backends, registry and config are used).
        store: The runtime's state store.
        clock: Unix seconds, wall time (ttl and idle times count on it; tests inject one).
        relet_bid_wait: Seconds a re-lease waits for bids in one pass (default
            :data:`RELET_BID_WAIT`, or the deploy's ``bid_timeout`` if shorter).
    """

    def __init__(
        self,
        agent: Any,
        store: StateStore,
        *,
        clock: Callable[[], float] = time.time,
        relet_bid_wait: float | None = None,
    ):
        self.agent = agent
        self.store = store
        self.clock = clock
        self.relet_bid_wait = min(
            agent.config.bid_timeout, RELET_BID_WAIT if relet_bid_wait is None else relet_bid_wait
        )
        self._offline_since: dict[tuple[int, int, str], float] = {}
        # Idle timers by (task, dseq): the one in memory, and the one last journaled.
        self._idle: dict[tuple[str, int], IdleState] = {}
        self._idle_journaled: dict[tuple[str, int], IdleState | None] = {}
        # One account listing per pass; a deployment's full read (with its leases' live status)
        # only when something changed or the last one is older than half the offline grace,
        # so an unreachable provider is still seen within the grace (see _views).
        config = agent.config
        self._viewed: set[tuple[str, int]] = set()
        # The requests of the tasks watched, by task id (the last pass's; validated once).
        self._requests: dict[str, DeploymentRequest] = {}
        # Completed tasks whose deployment is closed: nothing reopens one (a new deploy or an
        # update is a new task), so their journals are not read again on every pass.
        self._closed_tasks: set[str] = set()
        self.views = DeploymentViews(
            time.monotonic, status_every=max(config.watch_interval, config.offline_grace / 2)
        )
        #: How many deployments the last pass looked at.
        self.checked = 0
        #: Called after each pass of :meth:`run` with what it did (``minds371 watch`` says it).
        self.on_pass: Callable[[list[WatchAction]], None] | None = None

    async def run(self) -> None:
        """Check forever, every ``watch_interval`` seconds (a runtime service).

        The first pass comes one interval after the start: a short-lived runtime (a ``deploy``
        or ``watch --once`` from the command line, which makes its own pass) is not raced.
        """
        while True:
            await anyio.sleep(self.agent.config.watch_interval)
            try:
                actions = await self.check_once()
                if self.on_pass is not None:
                    self.on_pass(actions)
            except Minds371Error as exc:
                _log.warning("minds371.deploy.watch_failed", error=exc.message)

    async def check_once(self) -> list[WatchAction]:
        """One pass over every watched deployment; returns what was done.

        While another pass over the same store runs, waits for it and returns its actions.
        """
        while (running := _passes.get(id(self.store))) is not None:
            await running.done.wait()
            if running.actions is not None:
                return list(running.actions)
        current = _passes[id(self.store)] = _Pass()
        try:
            current.actions = await self._pass()
            return list(current.actions)
        finally:
            del _passes[id(self.store)]
            current.done.set()

    async def _pass(self) -> list[WatchAction]:
        actions: list[WatchAction] = []
        records = await self.store.list_tasks(
            statuses=(TaskStatus.COMPLETED,), agent_type=AgentType.DEPLOYMENT, limit=-1
        )
        self.checked = 0
        watched: set[tuple[str, int]] = set()
        self.views.new_pass()
        for record in records:
            if record.task.id in self._closed_tasks:
                continue
            steps = await self.store.steps(record.task.id)
            state = SagaState.from_steps(steps)
            if state.open_dseq is None and state.open_replicas() and state.output is not None:
                # Replicas whose first deployment is closed or was handed over: nothing sends
                # traffic to them or watches them, and they pay. Closed here, the task is done.
                actions.extend(await self._close_orphaned_replicas(record, state))
                continue
            if state.open_dseq is None and state.dseq is not None:
                self._closed_tasks.add(record.task.id)
            if state.open_dseq is None or state.output is None:
                continue
            self.checked += 1
            watched.add((record.task.id, state.open_dseq))
            decided = {int(s.data["dseq"]) for s in steps if s.name == AUTO_TOP_UP}
            try:
                actions.extend(
                    await self._check(record.task.id, record.task.payload, state, decided)
                )
            except Minds371Error as exc:
                actions.append(WatchAction(record.task.id, state.open_dseq, "error", exc.message))
        self.views.keep_only(self._viewed)
        self._viewed.clear()
        for task_id in set(self._requests) - {task_id for task_id, _ in watched}:
            del self._requests[task_id]
        # The idle timers of deployments no longer watched (closed, handed over) go.
        for key in set(self._idle_journaled) - watched:
            self._idle.pop(key, None)
            self._idle_journaled.pop(key, None)
        for action in actions:
            _log.info(
                f"minds371.deploy.watch_{action.kind}",
                task_id=action.task_id,
                dseq=action.dseq,
                detail=action.detail,
            )
        return actions

    async def _being_updated(self, task_id: str, name: str) -> bool:
        """Whether an unfinished task of ``name`` is updating ``task_id``'s deployment in place."""
        running = await self.store.tasks_named(
            name, statuses=(TaskStatus.PENDING, TaskStatus.RUNNING), agent_type=AgentType.DEPLOYMENT
        )
        for record in running:
            plan = recorded_plan(await self.store.steps(record.task.id))
            if plan is not None and plan.kind == "in_place" and plan.previous_task == task_id:
                return True
        return False

    def _provider(self, backend: Any, request: DeploymentRequest) -> AkashIntegrationProvider:
        """The watcher's provider for a task's request on a backend of its network."""
        return AkashIntegrationProvider(
            backend,
            policy=request.bid_policy,
            budget=request.budget.to_budget(),
            bid_timeout=self.relet_bid_wait,
            ready_timeout=self.agent.config.ready_timeout,
        )

    async def _close_orphaned_replicas(
        self, record: TaskRecord, state: SagaState
    ) -> list[WatchAction]:
        """Close the replicas a task still holds when its first deployment is no longer its."""
        request = self._request_of(record.task.id, record.task.payload)
        actions: list[WatchAction] = []
        try:
            async with self.agent.backends.backend(request.network) as backend:
                akash = self._provider(backend, request)
                await self._close_replicas(akash, record.task.id, state, "orphaned")
        except Minds371Error as exc:
            for dseq in state.open_replicas().values():
                actions.append(WatchAction(record.task.id, dseq, "error", exc.message))
            return actions
        for replica, dseq in sorted(state.open_replicas().items()):
            detail = f"replica {replica} closed: its first deployment is no longer this task's"
            actions.append(WatchAction(record.task.id, dseq, "closed", detail))
        return actions

    async def _close_replicas(
        self, akash: AkashIntegrationProvider, task_id: str, state: SagaState, reason: str
    ) -> None:
        """Close the task's replica deployments (Console layout) and journal each close."""
        for replica, replica_dseq in state.open_replicas().items():
            try:
                if (await akash.status(replica_dseq)).active:
                    await akash.close(replica_dseq, reason=reason)
            except NotFound:
                pass  # the network no longer knows it: nothing left to pay for
            await self.store.record_step(
                task_id,
                REPLICA_CLOSED,
                {"replica": replica, "dseq": replica_dseq, "reason": reason},
            )

    def _request_of(self, task_id: str, payload: dict[str, Any]) -> DeploymentRequest:
        """The task's request, validated once: a stored task's payload never changes."""
        request = self._requests.get(task_id)
        if request is None:
            request = parse_request(payload).model_copy(update={"task_id": task_id})
            self._requests[task_id] = request
        return request

    async def _check(
        self, task_id: str, payload: dict[str, Any], state: SagaState, top_up_decided: set[int]
    ) -> list[WatchAction]:
        request = await as_deployed(self.store, task_id, self._request_of(task_id, payload))
        dseq = state.open_dseq
        assert dseq is not None
        async with self.agent.backends.backend(request.network) as backend:
            akash = self._provider(backend, request)
            self._viewed.add((request.network, dseq))
            try:
                deployment = await self.views.view(request.network, akash, dseq)
            except NotFound:
                # The network does not know it (a served sandbox that was reset, another
                # account): nothing to keep leased; marked, so that it is not checked again.
                await self._close_replicas(akash, task_id, state, "gone")
                await self.store.record_step(task_id, CLOSED, {"dseq": dseq, "reason": "gone"})
                await retire_record(self.agent._registry_factory, request.name, dseq, "gone")
                await release_domain(self.store, task_id, self.agent._dns_or_none(), "gone")
                return [
                    WatchAction(
                        task_id,
                        dseq,
                        "gone",
                        f"the {request.network} network no longer knows it; marked gone",
                    )
                ]
            if not deployment.active:
                # The service's first deployment is closed (by hand, or out of funds): its
                # record is retired below, so replicas of their own would run, and pay, with
                # nobody sending traffic to them or watching them. They are closed too.
                await self._close_replicas(akash, task_id, state, "closed")
                await self.store.record_step(task_id, CLOSED, {"dseq": dseq, "reason": "closed"})
                await retire_record(self.agent._registry_factory, request.name, dseq, "closed")
                await release_domain(self.store, task_id, self.agent._dns_or_none(), "closed")
                return [WatchAction(task_id, dseq, "closed", "the deployment was closed")]
            policy = LifetimePolicy.of(request)
            close = policy.decide(self.clock(), state.finalized_at)
            idle_actions: list[WatchAction] = []
            if close is None and request.idle is not None:
                idle, idle_actions = await self._idle_timer(
                    task_id, request, state, deployment, akash, backend, policy
                )
                close = policy.decide(self.clock(), state.finalized_at, idle)
            if close is not None:
                if await self._being_updated(task_id, request.name):
                    # The update takes it over with a lifetime of its own: closing it now
                    # would close the service the update is about to record.
                    detail = f"{close.detail}, but an update of it is running: checked after it"
                    return [WatchAction(task_id, dseq, "waiting", detail)]
                return [await self._close_for(akash, task_id, request, state, close)]
            lost, degraded = await self._lost_groups(akash, deployment)
            actions = idle_actions + [
                WatchAction(task_id, dseq, "degraded", detail, {"gseq": gseq})
                for gseq, detail in degraded
            ]
            if lost:
                sdl = self.agent._sdl_for(request)
                relet: set[int] = set()
                for gseq in lost:
                    if gseq in relet:
                        continue  # an earlier re-lease of this pass took every missing group
                    try:
                        # The journaled manifest (returned at create or update) is the one the
                        # network's providers accept; one rebuilt here may not re-hash to it.
                        outcome = await akash.relet_group(dseq, gseq, sdl, manifest=state.manifest)
                    except NoBidsError as exc:
                        detail = f"gseq {gseq}: {exc.message}; tried again next pass"
                        actions.append(
                            WatchAction(task_id, dseq, "waiting", detail, {"gseq": gseq})
                        )
                        continue
                    for got in sorted({lease.id.gseq for lease in outcome.leases} & set(lost)):
                        providers = [
                            lease.id.provider
                            for lease in outcome.leases
                            if lease.id.gseq == got and lease.active
                        ]
                        if got in relet or not providers:
                            continue
                        relet.add(got)
                        await self.store.record_step(
                            task_id, RELET, {"dseq": dseq, "gseq": got, "providers": providers}
                        )
                        actions.append(
                            WatchAction(
                                task_id, dseq, "relet", f"gseq {got} re-leased", {"gseq": got}
                            )
                        )
                deployment = await akash.status(dseq)
            # Every pass, not only after a re-lease: a DNS update that failed is tried again.
            actions += await self._follow_domain(task_id, request, deployment)
            replica_actions, replicas = await self._check_replicas(
                akash, task_id, request, state, deployment
            )
            actions += replica_actions
            if lost or degraded or replica_actions:
                await self._republish(request, deployment, state, also=replicas)
            # a new lease may cost more: the budget decides again
            decided = top_up_decided - {a.dseq for a in actions if a.kind == "relet"}
            for watched in (deployment, *replicas):
                actions += await self._fund(
                    akash, task_id, watched, state, policy, watched.dseq in decided
                )
        return actions

    async def _follow_domain(
        self, task_id: str, request: Any, deployment: Deployment
    ) -> list[WatchAction]:
        """Point the request's domain where its service runs now.

        After a re-lease the target moved; after a DNS update that failed, it is tried again.
        Nothing is written while the journaled record still holds.
        """
        try:
            moved = await follow_domain(
                self.store, task_id, self.agent, request, deployment.endpoints()
            )
        except Minds371Error as exc:
            return [WatchAction(task_id, deployment.dseq, "error", f"DNS: {exc.message}")]
        if moved is None:
            return []
        return [WatchAction(task_id, deployment.dseq, "dns", moved, {"name": request.domain})]

    async def _fund(
        self,
        akash: AkashIntegrationProvider,
        task_id: str,
        deployment: Deployment,
        state: SagaState,
        policy: LifetimePolicy,
        decided: bool,
    ) -> list[WatchAction]:
        """Keep one deployment's escrow funded (:func:`._top_up.keep_funded`)."""
        dseq = deployment.dseq
        funding = await keep_funded(
            akash,
            deployment,
            auto_top_up_decided=decided,
            ttl_left=policy.ttl_left(self.clock(), state.finalized_at),
        )
        if funding is None:
            return []
        if funding.step is not None:
            await self.store.record_step(task_id, funding.step, {"dseq": dseq, **funding.data})
        return [WatchAction(task_id, dseq, funding.kind, funding.detail, funding.data)]

    async def _close_for(
        self,
        akash: AkashIntegrationProvider,
        task_id: str,
        request: Any,
        state: SagaState,
        close: CloseNow,
    ) -> WatchAction:
        """Close the deployment (and its replicas) as the lifetime policy decided; say why."""
        dseq = state.open_dseq
        assert dseq is not None
        await self._close_replicas(akash, task_id, state, close.reason)
        await akash.close(dseq, reason=close.reason)
        await self.store.record_step(
            task_id, CLOSED, {"dseq": dseq, "reason": close.reason, "detail": close.detail}
        )
        await retire_record(self.agent._registry_factory, request.name, dseq, close.reason)
        await release_domain(self.store, task_id, self.agent._dns_or_none(), close.reason)
        self._idle.pop((task_id, dseq), None)
        self._idle_journaled.pop((task_id, dseq), None)
        return WatchAction(task_id, dseq, close.kind, close.detail)

    async def _idle_timer(
        self,
        task_id: str,
        request: Any,
        state: SagaState,
        deployment: Deployment,
        akash: AkashIntegrationProvider,
        backend: Any,
        policy: LifetimePolicy,
    ) -> tuple[IdleState | None, list[WatchAction]]:
        """Probe the deployment's activity and move its idle timer (journaled when due).

        Returns the timer (``None`` when the probe failed: nothing is judged from a failure)
        and, on a failure, the action that reports it.
        """
        from minds371_registry._settings import probe_private

        dseq = deployment.dseq
        key = (task_id, dseq)
        if key not in self._idle_journaled:
            journaled = IdleState.from_steps(await self.store.steps(task_id), dseq)
            self._idle_journaled[key] = journaled
            if journaled is not None:
                self._idle[key] = journaled
        watched = [deployment]
        for replica_dseq in state.open_replicas().values():
            replica = await akash.status(replica_dseq)
            if replica.active:
                watched.append(replica)
        urls = sorted({e.url for d in watched for e in d.endpoints() if e.kind == "http"})
        try:
            counts = await read_counters(
                urls,
                IdleProbe.parse(request.idle.probe),
                routes=routes_for_network(request.network, backend),
                allow_private=probe_private(),
            )
        except ProbeFailed as exc:
            detail = f"idle probe {request.idle.probe} failed, so not judged idle: {exc}"
            return None, [WatchAction(task_id, dseq, "idle_probe_failed", detail)]
        now = self.clock()
        before = self._idle.get(key)
        timer = IdleState(now, counts) if before is None else before.observe(now, counts)
        self._idle[key] = timer
        last = self._idle_journaled[key]
        if policy.journal_due(last, timer, now):
            await self.store.record_step(task_id, IDLE_SEEN, timer.to_step(dseq))
            self._idle_journaled[key] = timer
        return timer, []

    async def _check_replicas(
        self,
        akash: AkashIntegrationProvider,
        task_id: str,
        request: Any,
        state: SagaState,
        first: Deployment,
    ) -> tuple[list[WatchAction], list[Deployment]]:
        """Re-lease each lost replica (Console layout) on its own deployment.

        A replica's deployment has one group, so Console's ``POST /v1/leases`` (which skips
        lease creation while any lease of the deployment is active) leases it again; the
        other replicas (``first`` is replica 1) are not touched, and their providers are
        avoided, as is every provider the replica had before.
        """
        replicas = state.open_replicas()
        if not replicas:
            return [], []
        actions: list[WatchAction] = []
        marked = self.agent._marked_sdl(request)
        self._viewed.update((request.network, dseq) for dseq in replicas.values())
        statuses = {
            replica: await self.views.view(request.network, akash, dseq)
            for replica, dseq in replicas.items()
        }
        serving = {
            lease.id.provider for d in (first, *statuses.values()) for lease in d.active_leases
        }
        for replica, deployment in statuses.items():
            dseq = deployment.dseq
            if not deployment.active:
                data = {"replica": replica, "reason": "closed"}
                await self.store.record_step(task_id, REPLICA_CLOSED, {"dseq": dseq, **data})
                actions.append(
                    WatchAction(task_id, dseq, "closed", f"replica {replica} was closed", data)
                )
                continue
            lost, degraded = await self._lost_groups(akash, deployment)
            actions += [
                WatchAction(task_id, dseq, "degraded", detail, {"gseq": g, "replica": replica})
                for g, detail in degraded
            ]
            if not lost:
                continue
            before = {lease.id.provider for lease in deployment.leases}
            try:
                outcome = await akash.resume(
                    dseq,
                    replica_sdl(marked, replica),
                    avoid_providers=before | serving,
                    manifest=state.replicas[replica].manifest,
                )
            except NoBidsError as exc:
                detail = f"replica {replica}: {exc.message}; tried again next pass"
                data = {"replica": replica, "gseq": lost[0]}
                actions.append(WatchAction(task_id, dseq, "waiting", detail, data))
                continue
            providers = [lease.id.provider for lease in outcome.leases if lease.active]
            serving |= set(providers)
            # A replica's deployment has one group: gseq 1.
            data = {"replica": replica, "gseq": lost[0], "providers": providers}
            await self.store.record_step(task_id, RELET, {"dseq": dseq, **data})
            actions.append(
                WatchAction(task_id, dseq, "relet", f"replica {replica} re-leased", data)
            )
            statuses[replica] = await akash.status(dseq)
        return actions, [d for d in statuses.values() if d.active]

    async def _lost_groups(
        self, akash: AkashIntegrationProvider, deployment: Deployment
    ) -> tuple[list[int], list[tuple[int, str]]]:
        """Groups to re-lease now, and groups that are down but cannot be re-leased."""
        active = {lease.id.gseq: lease for lease in deployment.active_leases}
        gseqs = {lease.id.gseq for lease in deployment.leases}
        lost = sorted(g for g in gseqs if g not in active)
        degraded: list[tuple[int, str]] = []
        grace = self.agent.config.offline_grace
        for gseq, lease in sorted(active.items()):
            if not await self._unreachable(akash, lease):
                self._offline_since.pop(_key(lease), None)
                continue
            since = self._offline_since.setdefault(_key(lease), self.clock())
            if self.clock() - since < grace:
                continue
            if not getattr(akash.backend, "can_close_lease", False):
                degraded.append(
                    (
                        gseq,
                        f"provider {lease.id.provider} unreachable; this network cannot "
                        "close one lease, so the group stays down while the others serve",
                    )
                )
                continue
            await akash.backend.close_lease(lease.id)
            self._offline_since.pop(_key(lease), None)
            lost.append(gseq)
        return sorted(set(lost)), degraded

    async def _unreachable(self, akash: AkashIntegrationProvider, lease: Lease) -> bool:
        # An active lease of a finished deployment reports a status unless its provider's
        # gateway cannot be reached (Console shows ``status: null``, the CLI's lease-status
        # fails); the provider's own online flag is asked too, where the network has one.
        if lease.status is None:
            return True
        try:
            provider = await akash.backend.get_provider(lease.id.provider)
        except Minds371Error:
            return False
        return not provider.online

    async def _republish(
        self,
        request: Any,
        deployment: Deployment,
        state: SagaState,
        also: Sequence[Deployment] = (),
    ) -> None:
        """Publish the next record with the live endpoints (``also``: the other replicas)."""
        every = [deployment, *also]
        live = [lease for d in every for lease in d.active_leases if lease.status is not None]
        endpoints: list[str] = []
        for endpoint in (e for d in every for e in d.endpoints()):  # leases with a status
            if endpoint.url not in endpoints:
                endpoints.append(endpoint.url)
        if not endpoints:
            return
        facts = {
            "name": request.name,
            "owner": deployment.owner,
            "dseq": deployment.dseq,
            "network": request.network,
            "providers": sorted({lease.id.provider for lease in live}),
            "endpoints": endpoints,
            "manifest_hash": (state.output or {}).get("version", state.version),
            "ttl_seconds": request.ttl,
        }
        async with self.agent._registry_factory() as registry:
            receipt = await registry.register(facts, {"reason": "watcher", "dseq": deployment.dseq})
        _log.info(
            "minds371.deploy.republished",
            name=request.name,
            sequence=receipt.sequence,
            endpoints=endpoints,
        )


def _key(lease: Lease) -> tuple[int, int, str]:
    return (lease.id.gseq, lease.id.oseq, lease.id.provider)
