"""DeploymentAgent: a deployment request in, a running, registered, monitored service out.

For each task it validates the request (before anything costs money), composes an
:class:`~minds371_akash.AkashIntegrationProvider` for the request's network and a
:class:`~minds371_registry.BlockchainRegistryProvider`, then runs:

1. :meth:`clone_and_build` when the request names a repository;
2. :meth:`provision_and_deploy`: SDL, budget check, create, bids, leases, manifest, readiness,
   every side effect journaled in the task's saga first;
3. :meth:`configure_dns_and_ssl` when the request names a domain: its DNS record through the
   configured DNS provider (:mod:`.domains`), pointed at the lease's ingress host or IP;
4. :meth:`finalize`: metadata to the content store, a signed record to the ledger, the
   ``monitor-akash.sh`` script, and the result.

A task that runs again (after a crash) resumes from its saga instead of starting over.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio

from minds371.agent import TaskContext, current_task
from minds371.errors import ConfigurationError, LeaseError, Minds371Error, RegistryError
from minds371.logging import get_logger
from minds371.tasks import AgentType, Task
from minds371_akash import AkashIntegrationProvider, DeployEvent, DeploymentResult
from minds371_akash.market import Deployment
from minds371_akash.monitor import write_monitor_script
from minds371_deploy._faults import crash_point
from minds371_deploy._marker import TASK_ENV, MarkedSdl, marked_sdl
from minds371_deploy._output import endpoint_urls, request_digest, task_output
from minds371_deploy._retire import retire_record
from minds371_deploy.backends import BackendPool, DeployConfig
from minds371_deploy.context import DeploymentContext, DeploymentStatus
from minds371_deploy.domains import DnsProvider, dns_provider_from_env
from minds371_deploy.domains.records import point_domain, record_for, release_domain
from minds371_deploy.domains.tls import TlsMode, tls_mode
from minds371_deploy.redundancy import (
    check_sdl,
    layout_for,
    replicate_placements,
    rules_for_network,
)
from minds371_deploy.registries import RegistryPool
from minds371_deploy.replica_update import give_back_replicas, update_replicas_in_place
from minds371_deploy.replicas import close_replicas, deploy_replicas, replica_sdl, replica_summary
from minds371_deploy.request import DeploymentRequest, parse_request
from minds371_deploy.saga import SagaJournal, SagaState
from minds371_deploy.update import (
    UpdatePlan,
    give_back,
    hand_over,
    hand_over_after_a_crash,
    interrupted_by_shutdown,
    plan_update,
    retire_replaced,
    update_in_place,
)
from minds371_registry import BlockchainRegistryProvider, RegistryReceipt

__all__ = ["TASK_ENV", "DeploymentAgent"]

_log = get_logger("minds371.deploy.agent")


@dataclass(slots=True)
class _Run:
    """Everything one task's run holds."""

    task: TaskContext
    request: DeploymentRequest
    context: DeploymentContext
    akash: AkashIntegrationProvider
    journal: SagaJournal
    sdl: str
    marked_sdl: str = ""
    outcome: DeploymentResult | None = None
    #: The plan of an in-place update: the deployment another task holds until this one hands
    #: it over (see ``update_in_place``), and the deployment as the update left it, ready.
    in_place: UpdatePlan | None = None
    updated: Deployment | None = None
    replicas: list[DeploymentResult] = field(default_factory=list)
    dns: dict[str, Any] | None = None


class DeploymentAgent:
    """Serves ``deployment`` tasks: deploy to Akash, register, report.

    Args:
        config: Settings that do not come from requests (default: from the environment).
        registry: Opens the registry for a task (default: the embedded registry under
            ``$MINDS371_HOME``).
        dns: Keeps the records of request domains (default: the one the environment
            configures, :func:`~minds371_deploy.domains.dns_provider_from_env`, if any).
    """

    agent_type: str = AgentType.DEPLOYMENT

    def __init__(
        self,
        config: DeployConfig | None = None,
        *,
        registry: Any = None,
        dns: DnsProvider | None = None,
    ) -> None:
        self.config = config or DeployConfig.from_env()
        self._dns = dns
        self._dns_read = dns is not None
        self.backends = BackendPool(self.config)
        # One registry per runtime, lent to its tasks (opened per call without a runtime).
        self.registries = RegistryPool(registry or BlockchainRegistryProvider.default)
        self._registry_factory = self.registries.open
        self._runs: dict[str, _Run] = {}

    # -- the task ---------------------------------------------------------------------------------

    async def process_task(self, task: Task) -> dict[str, Any]:
        """Validate the request, deploy, register and return the result (see module docs).

        Raises:
            ValidationError: the request is invalid (nothing is created).
            BudgetExceeded: the request's budget does not allow it (nothing is spent).
            MarketError: the marketplace failed; the error carries a diagnosis.
        """
        request = parse_request(task.payload)
        if request.task_id is None:
            request = request.model_copy(update={"task_id": task.id})
        task_context = current_task()
        state = SagaState.from_steps(await task_context.steps())
        if state.output is not None:
            # Finished in an earlier attempt: report, do nothing again (but what a crash kept
            # from being handed over).
            await hand_over_after_a_crash(task_context, state)
            return state.output
        if state.open_dseq is None and state.version is None:
            # A fresh start: nothing is spent until these pass (not found after the deployment
            # is up; a resumed task that fails them later closes what it holds).
            await self._check_domain(request)
            await self._check_registry()
        if request.repo_url is not None:
            request = await self.clone_and_build(request)  # journaled: a resume reuses it
        plan = await plan_update(self, task_context, request)  # this name may already run
        context = DeploymentContext(task_id=task.id)
        async with self._run(task_context, request, context) as run:
            await self._track_event(run, "deployment.accepted", "request validated", state=None)
            try:
                if plan.kind == "in_place":
                    run.in_place = plan
                    run.updated = await update_in_place(run, plan, self._sdl_for)
                run.outcome = await self.provision_and_deploy(request)
                await self.configure_dns_and_ssl(request)
                output = await self.finalize(request, context)
                output["update"] = plan.as_dict()
                if plan.kind == "replace":
                    output["update"]["replaced"] = await retire_replaced(run, plan)
                await self._take_over_domain(run, plan.previous_task, output["update"])
                if plan.kind == "in_place":
                    crash_point("deployment.before_hand_over")
                    await hand_over(run, plan)  # recorded and serving: now this task's
            except BaseException as exc:
                context.close(
                    DeploymentStatus.CANCELLED
                    if isinstance(exc, anyio.get_cancelled_exc_class())
                    else DeploymentStatus.FAILED
                )
                with anyio.CancelScope(shield=True):
                    await self._track_final_event(run, exc)
                raise
            context.close(DeploymentStatus.COMPLETED)
            await self._track_final_event(run, None)
            return output

    @asynccontextmanager
    async def _run(
        self, task: TaskContext, request: DeploymentRequest, context: DeploymentContext
    ) -> AsyncIterator[_Run]:
        journal = SagaJournal(task)
        marked = self._mark(request)
        sdl = self._sdl_for(request, marked)
        rules = rules_for_network(request.network)
        prepared = marked.prepared(rules) if sdl is marked.text else None
        runs: list[_Run] = []

        async def on_event(event: DeployEvent) -> None:
            await self._on_deploy_event(runs[0], event)

        async with self.backends.backend(request.network) as backend:
            akash = AkashIntegrationProvider(
                backend,
                policy=request.bid_policy,
                budget=request.budget.to_budget(),
                on_event=on_event,
                journal=journal,
                bid_timeout=self.config.bid_timeout,
                ready_timeout=self.config.ready_timeout,
                # Compensation is the saga's call (see provision_and_deploy): a runtime that is
                # shutting down leaves the deployment for the next start to resume.
                close_on_failure=False,
                # The SDL carries the task's marker, and provision_and_deploy adopts the
                # deployment of an earlier attempt before it creates (see _adopt).
                unique_versions=True,
                prepared=prepared,
            )
            run = _Run(task, request, context, akash, journal, sdl, marked.text)
            runs.append(run)
            self._runs[task.task.id] = run
            try:
                yield run
            finally:
                del self._runs[task.task.id]
                # The provider's hook holds the run, which holds the provider: without this
                # cycle the run's objects go when the task ends, not in a garbage collection.
                runs.clear()

    async def _check_registry(self) -> None:
        """Fail before any spend when the deployment could not be recorded afterwards.

        A bad key, an EVM node on the wrong chain or without the contract, or an IPFS node that
        does not answer would otherwise surface only once the deployment is up and paid for.
        """
        try:
            async with self._registry_factory() as registry:
                await registry.check_writable()
        except RegistryError as exc:
            raise type(exc)(
                f"the registry cannot record deployments, so none was started: {exc.message}",
                details=exc.details,
                retryable=exc.retryable,
            ) from exc

    def _marked_sdl(self, request: DeploymentRequest) -> str:
        """The request's SDL with its task's marker (see :mod:`._marker`)."""
        return self._mark(request).text

    @staticmethod
    def _mark(request: DeploymentRequest) -> MarkedSdl:
        # From the base SDL's data, as it would be read back: written once, never parsed here.
        return marked_sdl(request.base_sdl_key(), request.base_sdl_data, str(request.task_id))

    def _sdl_for(self, request: DeploymentRequest, marked: MarkedSdl | None = None) -> str:
        """The SDL of the task's own deployment, validated by its network's rules.

        This is the network-aware validation step before any spend: Go's rules on the CLI,
        Console's (chain-sdk TypeScript) on Console and the sandbox, which serves its API.
        With redundancy on Console, the task's own deployment is replica 1 (see
        :mod:`.redundancy`). ``marked`` is the request's :meth:`_mark` when the caller has it
        already.
        """
        if marked is None:
            marked = self._mark(request)
        rules = rules_for_network(request.network)
        if request.redundancy == 1:
            marked.check(rules)  # the provider prepares this text to deploy it
            return marked.text
        if layout_for(request.network) == "groups":
            return replicate_placements(marked.text, request.redundancy, rules=rules)
        check_sdl(marked.text, rules)
        return replica_sdl(marked.text, 1)

    # -- the steps --------------------------------------------------------------------------------

    async def clone_and_build(self, request: DeploymentRequest) -> DeploymentRequest:
        """Clone ``repo_url``, run ``build_commands``, build and push an image (or reuse it).

        Returns the request running the pushed image by digest (see :mod:`.building`).

        Raises:
            BuildError: the repository cannot be cloned or does not build (nothing is spent).
            ConfigurationError: no image builder is installed, or the settings are unusable.
            ImageRegistryError: the container registry failed.
        """
        from minds371_deploy.building.step import build_request

        built, _ = await build_request(current_task(), request)
        return built

    async def provision_and_deploy(self, request: DeploymentRequest) -> DeploymentResult:
        """Deploy the request's workload, or resume the deployment an earlier attempt began.

        Raises:
            BudgetExceeded: nothing spent.
            MarketError: with a diagnosis; what this step created is closed.
        """
        run = self._runs[str(request.task_id)]
        step = run.context.begin("provision_and_deploy", DeploymentStatus.PROVISIONING)
        state = SagaState.from_steps(await run.task.steps())
        try:
            dseq = state.open_dseq
            if dseq is None and state.version is not None and state.closed is None:
                dseq = await self._adopt(run, state.version)
            if dseq is not None and run.updated is not None and run.updated.dseq == dseq:
                # Updated in place and ready a moment ago: its manifest is not sent again.
                outcome = await run.akash.ready_result(
                    run.updated, run.sdl, manifest=state.manifest
                )
            elif dseq is not None:
                outcome = await self._resume(run, dseq)
            else:
                replicated = layout_for(request.network) == "deployments"
                if replicated and request.redundancy > 1:
                    await self._check_replicas_budget(run)
                outcome = await run.akash.deploy(run.sdl, deposit=request.deposit_uact)
            if layout_for(request.network) == "deployments" and request.redundancy > 1:
                updated = (
                    await update_replicas_in_place(run, run.in_place, self._marked_sdl)
                    if run.in_place is not None
                    else {}
                )
                run.replicas = await deploy_replicas(
                    run.akash,
                    run.task,
                    request,
                    run.marked_sdl,
                    outcome,
                    on_event=lambda event: self._on_deploy_event(run, event),
                    bid_timeout=self.config.bid_timeout,
                    ready_timeout=self.config.ready_timeout,
                    updated=updated,
                )
        except BaseException as exc:
            run.context.end(step, ok=False, detail=_one_line(exc))
            with anyio.CancelScope(shield=True):
                await self._compensate(run, exc)
            raise
        run.context.end(
            step,
            ok=True,
            detail=f"deployment {outcome.dseq} ready",
            dseq=outcome.dseq,
            providers=[lease.id.provider for lease in outcome.leases],
        )
        return outcome

    async def _check_replicas_budget(self, run: _Run) -> None:
        """Check the budget for every replica at its SDL's prices before the first one spends.

        One deployment per replica costs what one deployment with as many groups would: the
        budget must allow N times a replica's maximum price.
        """
        prepared = run.akash.prepare(run.sdl)
        copies = run.request.redundancy
        everything = prepared.model_copy(
            update={"max_price_per_block": prepared.max_price_per_block * copies}
        )
        await run.akash.check_budget(everything, deposit=run.request.deposit_uact)

    async def _adopt(self, run: _Run, version: str) -> int | None:
        """Find the deployment an attempt created but did not get to record.

        The create's answer (and the manifest in it) was lost, so the deployment is recognised
        by the version the network recorded for it: the version of the manifest the network
        builds from this SDL (on Console, by chain-sdk TypeScript's rules, as ``prepare`` does
        for a Console backend), which the create intent holds. That manifest, whose re-hash is
        the recorded version, is journaled for every later resend.
        """
        found = sorted(await run.akash.backend.find_deployments(version), key=lambda d: d.dseq)
        if not found:
            return None
        keep, *extra = found
        prepared = run.akash.prepare(run.sdl)
        manifest = prepared.manifest if prepared.version == version else ""
        await run.journal.created(
            dseq=keep.dseq, version=version, recovered=True, manifest=manifest
        )
        for duplicate in extra:  # cannot happen with one intent per attempt; never keep two
            await run.akash.close(duplicate.dseq, reason="duplicate")
        await self._track_event(run, "deployment.adopted", f"found deployment {keep.dseq}")
        return keep.dseq

    async def _resume(self, run: _Run, dseq: int) -> DeploymentResult:
        await self._track_event(run, "deployment.resuming", f"resuming deployment {dseq}")
        deployment = await run.akash.status(dseq)
        if not deployment.active:
            await run.journal.closed(dseq=dseq, reason="found closed")
            raise LeaseError(
                f"deployment {dseq} of this task was closed while the task was interrupted; "
                "dispatch the request again to deploy anew",
                details={"dseq": dseq},
                retryable=True,
            )
        state = SagaState.from_steps(await run.task.steps())
        # Exactly the manifest the network returned (journaled): the only one it accepts.
        return await run.akash.resume(dseq, run.sdl, manifest=state.manifest)

    async def _compensate(self, run: _Run, exc: BaseException) -> None:
        """Close the deployment this task holds open, unless the runtime is only stopping."""
        interrupted = interrupted_by_shutdown(run, exc)
        state = SagaState.from_steps(await run.task.steps())
        dseq = state.open_dseq
        if interrupted:
            return
        replicas = state.open_replicas()
        plan = run.in_place
        if replicas and plan is not None:
            # Replicas the update changed where they ran before it: put back, never closed.
            given = await give_back_replicas(run, plan, replicas, exc, self._marked_sdl)
            replicas = {r: d for r, d in replicas.items() if r not in given}
        if replicas:
            with anyio.move_on_after(60):
                failures = await close_replicas(run.akash, run.task, replicas, "failure")
                if failures and isinstance(exc, Minds371Error):
                    exc.details["replica_close_failed"] = failures
        if dseq is None:
            return
        if plan is not None and dseq == plan.previous_dseq:
            # It ran before this task updated it: roll the update back (within its own time
            # limit), never close it.
            if await give_back(run, plan, exc, self._sdl_for):
                return
        with anyio.move_on_after(60):
            try:
                await run.akash.close(dseq, reason="failure")
                await retire_record(self._registry_factory, run.request.name, dseq, "failure")
                await release_domain(
                    run.task.store, run.task.task.id, self._dns_or_none(), "failure"
                )
            except Minds371Error as close_exc:
                _log.error("minds371.deploy.close_failed", dseq=dseq, error=close_exc.message)
                if isinstance(exc, Minds371Error):
                    exc.details["close_failed"] = close_exc.message

    def dns_provider(self) -> DnsProvider | None:
        """The DNS provider of request domains (read from the environment on first use).

        Raises:
            ConfigurationError: the environment configures one wrongly (naming the variable).
        """
        if not self._dns_read:
            self._dns = dns_provider_from_env()
            self._dns_read = True
        return self._dns

    def _tls_mode(self, request: DeploymentRequest) -> TlsMode:
        return tls_mode(request.ssl, request.ssl_termination, self.dns_provider())

    async def _check_domain(self, request: DeploymentRequest) -> None:
        """Before any spend: TLS must be possible as asked, and the DNS provider writable.

        Raises:
            ValidationError: ``ssl`` asks for TLS the configuration cannot give (``/ssl``).
            ConfigurationError: the DNS provider refuses the key or token, or the domain is
                not in its zone.
            ProviderError: the DNS provider did not answer.
        """
        if request.domain is None:
            return
        self._tls_mode(request)
        dns = self.dns_provider()
        if dns is not None:
            await dns.check(request.domain)

    async def configure_dns_and_ssl(self, request: DeploymentRequest) -> dict[str, Any] | None:
        """Point ``domain`` at the deployment, as its TLS mode needs.

        The domain is an ingress host (``accept``) of its service, or, with a TLS sidecar, the
        sidecar's name on a leased IP (:mod:`.domains.tls`). With a DNS provider the record is
        a CNAME to the lease's ingress host or an A record to its leased IP, ``proxied`` when
        the DNS provider's proxy terminates TLS; it is journaled before it is written
        (:mod:`.domains.records`). Without a provider the record is the operator's to make, and
        the result says where to point it.

        Returns:
            The record (``name``, ``type``, ``content``, ``proxied``, ``tls``, ``managed``), or
            ``None`` without a domain.

        Raises:
            ConfigurationError, ProviderError: the DNS provider failed; the deployment is
                closed, like any failed task's, and the record removed.
        """
        if request.domain is None:
            return None
        run = self._runs[str(request.task_id)]
        assert run.outcome is not None
        mode = self._tls_mode(request)
        dns = self.dns_provider()
        endpoints = [e for r in (run.outcome, *run.replicas) for e in r.endpoints]
        record = record_for(request, endpoints, proxied=mode == "dns_proxy")
        if record is None:
            # The provider reported no host or IP for the service (yet): the deployment serves
            # at its other endpoints, and the watcher points the record once one appears.
            run.dns = {"name": request.domain, "type": None, "content": None, "tls": mode}
            await self._track_event(
                run,
                "dns.pending",
                f"no endpoint of service {request.domain_service} serves {request.domain} yet; "
                "the watcher points the record when one does",
            )
            return run.dns
        step = run.context.begin("configure_dns_and_ssl", DeploymentStatus.FINALIZING)
        try:
            if dns is not None:
                await point_domain(run.task.store, run.task.task.id, dns, record)
        except BaseException as exc:
            run.context.end(step, ok=False, detail=_one_line(exc))
            with anyio.CancelScope(shield=True):
                await self._compensate(run, exc)
            raise
        summary = {
            "name": record.name,
            "type": record.type,
            "content": record.content,
            "proxied": record.proxied,
            "tls": mode,
            "managed": dns.kind if dns is not None else None,
        }
        run.dns = summary
        run.context.end(step, ok=True, detail=f"{record.name} {record.type} {record.content}")
        await self._track_event(
            run,
            "dns.pointed" if dns is not None else "dns.manual",
            f"{record.name} → {record.type} {record.content}"
            + ("" if dns is not None else " (no DNS provider: create this record yourself)"),
            record=summary,
        )
        return summary

    async def _take_over_domain(
        self, run: _Run, previous_task: str | None, update: dict[str, Any]
    ) -> None:
        """The deployment this task replaced or took over hands its domain's record over.

        The same name: this task's record already stands there, so the old task only stops
        tracking it. Another name: the old record is removed, unless the old deployment could
        not be closed and still serves it.
        """
        if previous_task is None or not update.get("replaced", {}).get("closed", True):
            return
        await release_domain(
            run.task.store,
            previous_task,
            self._dns_or_none(),
            "replaced",
            moved_to=run.request.domain,
        )

    def _dns_or_none(self) -> DnsProvider | None:
        try:
            return self.dns_provider()
        except ConfigurationError:
            return None

    async def finalize(self, request: DeploymentRequest, ctx: DeploymentContext) -> dict[str, Any]:
        """Register the deployment, write its monitor script, and build the task's result.

        Raises:
            RegistryError: the record could not be published; the deployment is closed, so that
                a failed task never leaves one running (and paid for) that nobody uses.
        """
        run = self._runs[str(request.task_id)]
        assert run.outcome is not None
        outcome = run.outcome
        step = ctx.begin("finalize", DeploymentStatus.FINALIZING)
        crash_point("deployment.before_finalize")
        try:
            receipt = await self._register(run, outcome)
            crash_point("registry.published")
            # On the event loop: the script is not flushed to disk (see write_monitor_script),
            # so writing it is a few file system calls, cheaper than a worker thread's handoff.
            script = write_monitor_script(
                self.config.state_dir / "deployments",
                dseq=outcome.dseq,
                network=request.network,
                name=request.name,
                leases=outcome.leases,
                home=self.config.state_dir,
            )
            output = task_output(
                run.task.task.id, request, outcome, receipt, str(script), run.replicas
            )
            if run.dns is not None:
                output["dns"] = run.dns
            await run.journal.finalized(output)
        except BaseException as exc:
            ctx.end(step, ok=False, detail=_one_line(exc))
            with anyio.CancelScope(shield=True):
                await self._compensate(run, exc)
            raise
        ctx.end(step, ok=True, detail=f"registered as {request.name}", record=receipt.record_id)
        output["context"] = ctx.summary()
        return output

    async def _register(self, run: _Run, outcome: DeploymentResult) -> RegistryReceipt:
        request = run.request
        facts = {
            "name": request.name,
            "owner": outcome.owner,
            "dseq": outcome.dseq,
            "network": request.network,
            "providers": sorted(
                {lease.id.provider for r in (outcome, *run.replicas) for lease in r.leases}
            ),
            "endpoints": [url for r in (outcome, *run.replicas) for url in endpoint_urls(r)],
            "manifest_hash": outcome.version,
            "ttl_seconds": request.ttl,
        }
        metadata = {
            "request_sha256": request_digest(request),
            "target_environment": request.target_environment,
            "redundancy": request.redundancy,
            "sdl_sha256": hashlib.sha256(run.sdl.encode()).hexdigest(),
            "deployment": outcome.to_dict(),
            "replicas": replica_summary(run.replicas),
        }
        async with self._registry_factory() as registry:
            receipt: RegistryReceipt = await registry.register(facts, metadata)
        await self._track_event(
            run,
            "registry.published",
            f"registered {request.name} #{receipt.sequence}",
            record_id=receipt.record_id,
            cid=receipt.cid,
        )
        return receipt

    # -- events -----------------------------------------------------------------------------------

    async def _on_deploy_event(self, run: _Run, event: DeployEvent) -> None:
        await self._track_event(run, event.type, event.message, **dict(event.data))

    async def _track_event(self, run: _Run, type: str, message: str, **data: Any) -> None:
        """Emit a progress event for the task (and to the log)."""
        await run.task.emit(type, message, **_jsonable(data))

    async def _track_final_event(self, run: _Run, error: BaseException | None) -> None:
        """Emit the run's summary: status, duration, steps (and the error, if any)."""
        summary = run.context.summary()
        if error is not None and isinstance(error, Minds371Error):
            summary["error"] = {"type": type(error).__name__, "message": error.message}
        message = f"deployment {run.context.status.value} in {run.context.duration or 0:.1f} s"
        await run.task.emit("deployment.finished", message, **_jsonable(summary))


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` as a JSON round trip with ``default=str`` gives it back, without the round trip.

    Every event goes through here; most hold a few plain values, which are kept as they are.
    """
    return {_json_key(key): _json_value(value) for key, value in data.items()}


#: Kept as they are (exact types: a subclass, an enum, goes through the round trip).
_JSON_PLAIN = frozenset({str, int, float, bool})


def _json_value(value: Any) -> Any:
    if value is None or type(value) in _JSON_PLAIN:
        return value
    if isinstance(value, dict):
        return {_json_key(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    # Subclasses of the plain types (enums) and everything else: what the round trip gives.
    return json.loads(json.dumps(value, default=str))


def _json_key(key: Any) -> str:
    if type(key) is str:
        return key
    loaded: dict[str, Any] = json.loads(json.dumps({key: 0}))
    return next(iter(loaded))


def _one_line(exc: BaseException) -> str:
    text = exc.message if isinstance(exc, Minds371Error) else str(exc) or type(exc).__name__
    return " ".join(text.split())[:300]
