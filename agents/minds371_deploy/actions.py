"""The deployment actions, for agents, LLM tool APIs and MCP hosts.

=======================  ==============================================  ========================
action                   what it does                                    annotations
=======================  ==============================================  ========================
``DEPLOY_TO_AKASH``      deploy a request; returns the deployment result spends money, approval
``GET_DEPLOYMENT_STATUS`` a deployment's leases, services and endpoints   read-only
``GET_DEPLOYMENT_LOGS``  the last log lines of a deployment's services    read-only
``CLOSE_DEPLOYMENT``     close exactly the dseq given (never "all")       destructive, idempotent
``LIST_BIDS``            a deployment's bids, ranked, with reasons        read-only
``ESTIMATE_COST``        what a request would cost, before spending       read-only
``DISCOVER_SERVICE``     verified, health-ordered endpoints of a name     read-only
=======================  ==============================================  ========================

Deployments run as tasks of the runtime that executes the action (``AgentRuntime.execute_action``),
so they are durable and resumable like any other.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any, Literal

import anyio
from pydantic import BaseModel, ConfigDict, Field

from minds371.actions import Action, RunContext, action
from minds371.agent import optional_task
from minds371.errors import ConfigurationError, ProviderError
from minds371.logging import get_logger
from minds371.tasks import AgentType, Task, TaskResult, TaskStatus
from minds371_akash import AkashIntegrationProvider
from minds371_akash.market import MarketBackend
from minds371_akash.market._funding import current_runway
from minds371_akash.pricing import cost_report
from minds371_deploy.backends import BackendPool, DeployConfig
from minds371_deploy.request import DeploymentRequest, parse_request, request_payload

__all__ = ["deployment_actions"]

_log = get_logger("minds371.deploy.actions")

Network = Literal["sandbox", "console", "cli"]


class DeploymentRef(BaseModel):
    """Which deployment."""

    model_config = ConfigDict(extra="forbid")

    dseq: int = Field(ge=1, le=2**64 - 1, description="the deployment sequence number")
    network: Network = Field(default="sandbox", description="where it runs")


class LogsParams(DeploymentRef):
    """Which deployment's logs, and how many lines."""

    tail: int = Field(default=100, ge=1, le=10_000, description="lines per lease")
    services: list[str] = Field(default_factory=list, max_length=50)


class DiscoverParams(BaseModel):
    """Which service."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=128, description="the registry name")


class EstimateParams(BaseModel):
    """A request to price (same fields as DEPLOY_TO_AKASH), and optionally a live deployment."""

    model_config = ConfigDict(extra="forbid")

    request: DeploymentRequest
    dseq: int | None = Field(default=None, ge=1, description="price its current bids instead")

    @classmethod
    def secret_inputs(cls, raw: Any) -> list[str]:
        """The request's secrets its schema cannot mark (see DeploymentRequest.secret_inputs)."""
        request = raw.get("request") if isinstance(raw, dict) else None
        return [f"/request{path}" for path in DeploymentRequest.secret_inputs(request)]


def _runtime(ctx: RunContext[Any]) -> Any:
    running = optional_task()
    runtime = ctx.runtime or (running.runtime if running else None)
    if runtime is None:
        raise ConfigurationError(
            "deployment actions run through a runtime: AgentRuntime.execute_action(...)"
        )
    return runtime


@asynccontextmanager
async def _backend(ctx: RunContext[Any], network: str) -> AsyncIterator[MarketBackend]:
    from minds371_deploy._plugin import agent_for

    running = optional_task()
    runtime = ctx.runtime or (running.runtime if running else None)
    pool = agent_for(runtime).backends if runtime is not None else BackendPool(DeployConfig())
    async with pool.backend(network) as backend:
        yield backend


@action(
    description=(
        "Deploy a container workload to the Akash Network: bid, lease, send the manifest, wait "
        "until ready, register it for discovery and return its endpoints and monthly cost."
    ),
    similes=["DEPLOY", "DEPLOY_SERVICE", "LAUNCH_ON_AKASH", "HOST_CONTAINER"],
    examples=[{"name": "web", "image": "nginx:1.27", "budget": {"max_usd_per_month": 20}}],
    spends_money=True,
    requires_approval=True,
)
async def DEPLOY_TO_AKASH(ctx: RunContext[Any], params: DeploymentRequest) -> dict[str, Any]:
    """Deploy through the runtime's DeploymentAgent and wait for the result."""
    runtime = _runtime(ctx)
    payload = request_payload(params)
    task = Task(
        id=params.task_id or uuid.uuid4().hex,
        agent_type=AgentType.DEPLOYMENT,
        description=f"deploy {params.name}",
        payload=payload,
    )
    handle = await runtime.dispatch(task)
    result = await _follow(ctx, runtime, handle)
    if result.status is not TaskStatus.COMPLETED:
        error = result.error
        raise ProviderError(
            error.message if error else f"deployment {result.status.value}",
            retryable=bool(error and error.retryable),
            details={"task_id": task.id, **(error.details if error else {})},
        )
    output: dict[str, Any] = result.output
    return output


#: Seconds a cancelled caller waits for its deployment task to close what it created.
CANCEL_GRACE = 60.0


async def _follow(ctx: RunContext[Any], runtime: Any, handle: Any) -> TaskResult:
    """Wait for the deployment task; forward its events; cancel it if the caller is cancelled.

    Called outside any task (an MCP host, a LangChain or pydantic-ai tool), the task's events
    go to the caller's progress sink. Inside a task they stay in the deployment task's own
    stream (the caller's task has its own). A caller that is cancelled (an MCP client's
    ``notifications/cancelled``) cancels the deployment task and waits, shielded, until the
    saga has closed what it created, unless the runtime itself is stopping: then the task is
    interrupted, to resume when a runtime starts on the same state.
    """
    sink = ctx.emit if optional_task() is None else None
    try:
        if sink is not None:
            # The events end with the task's final one (or when the runtime stops).
            async for event in handle.events():
                try:
                    await sink(event.type, event.message, event.data)
                except Exception as exc:  # a host that stopped listening; the task goes on
                    _log.info("minds371.deploy.progress_lost", task_id=handle.id, error=repr(exc))
                    break
        result: TaskResult = await handle.result()
        return result
    except anyio.get_cancelled_exc_class():
        if not runtime.stopping:
            with anyio.move_on_after(CANCEL_GRACE, shield=True):
                await handle.cancel()
        raise


@action(
    description="Show a deployment's state, leases, service readiness and endpoints.",
    similes=["DEPLOYMENT_STATUS", "CHECK_DEPLOYMENT"],
    read_only=True,
    idempotent=True,
)
async def GET_DEPLOYMENT_STATUS(ctx: RunContext[Any], params: DeploymentRef) -> dict[str, Any]:
    """The deployment as the network reports it."""
    async with _backend(ctx, params.network) as backend:
        deployment = await backend.get_deployment(params.dseq)
        runway = await current_runway(backend, deployment)
    return {
        "dseq": str(deployment.dseq),
        "state": deployment.state,
        "runway": runway.to_dict() if runway is not None else None,
        "leases": [
            {
                "provider": lease.id.provider,
                "gseq": lease.id.gseq,
                "oseq": lease.id.oseq,
                "state": lease.state,
                "price": {"denom": lease.price.denom, "amount": str(lease.price.amount)},
            }
            for lease in deployment.leases
        ],
        "endpoints": [e.url for e in deployment.endpoints()],
    }


@action(
    description="Fetch the most recent log lines of a deployment's services.",
    similes=["DEPLOYMENT_LOGS", "SHOW_LOGS"],
    read_only=True,
    idempotent=True,
)
async def GET_DEPLOYMENT_LOGS(ctx: RunContext[Any], params: LogsParams) -> dict[str, Any]:
    """Log lines of every active lease (no follow)."""
    lines: list[dict[str, str]] = []
    async with _backend(ctx, params.network) as backend:
        akash = AkashIntegrationProvider(backend)
        async for lease, line in akash.logs(
            params.dseq, services=params.services, tail=params.tail
        ):
            lines.append({"provider": lease.id.provider, "pod": line.name, "message": line.message})
    return {"dseq": str(params.dseq), "lines": lines}


@action(
    description=(
        "Close one deployment, given by its dseq: its leases end and the rest of its escrow is "
        "refunded. Closes only that deployment, never all of them."
    ),
    similes=["STOP_DEPLOYMENT", "TEAR_DOWN", "CANCEL_DEPLOYMENT"],
    destructive=True,
    idempotent=True,
    requires_approval=True,
)
async def CLOSE_DEPLOYMENT(ctx: RunContext[Any], params: DeploymentRef) -> dict[str, Any]:
    """Close exactly ``dseq``."""
    async with _backend(ctx, params.network) as backend:
        await backend.close_deployment(params.dseq)
    return {"dseq": str(params.dseq), "closed": True}


@action(
    description="List a deployment's bids, ranked by the default policy, each with its reason.",
    similes=["SHOW_BIDS", "BIDS"],
    read_only=True,
    idempotent=True,
)
async def LIST_BIDS(ctx: RunContext[Any], params: DeploymentRef) -> dict[str, Any]:
    """Every bid of the deployment, ranked."""
    async with _backend(ctx, params.network) as backend:
        rankings = await AkashIntegrationProvider(backend).bids(params.dseq)
    return {
        "dseq": str(params.dseq),
        "groups": [
            {
                "gseq": ranking.gseq,
                "bids": [
                    {
                        "provider": ranked.bid.provider,
                        "price": str(ranked.bid.price.amount),
                        "eligible": ranked.eligible,
                        "reason": ranked.reason,
                    }
                    for ranked in ranking.ranked
                ],
            }
            for ranking in rankings
        ],
    }


@action(
    description=(
        "Estimate what a deployment request would cost per month, and what the same resources "
        "cost on a reference cloud, before anything is spent."
    ),
    similes=["PRICE_DEPLOYMENT", "HOW_MUCH", "COST"],
    read_only=True,
    idempotent=True,
)
async def ESTIMATE_COST(ctx: RunContext[Any], params: EstimateParams) -> dict[str, Any]:
    """Price the request at its maximum (or at a live deployment's best bids)."""
    from minds371_deploy._marker import with_task_marker
    from minds371_deploy.redundancy import replicate_placements, rules_for_network

    request = parse_request(params.request.model_dump(mode="json", by_alias=True))
    marked = with_task_marker(request.base_sdl(), "estimate")
    # N copies cost the same as N groups or N replicas: priced as N groups, by the network's
    # SDL rules.
    rules = rules_for_network(request.network)
    sdl = replicate_placements(marked, request.redundancy, rules=rules)
    async with _backend(ctx, request.network) as backend:
        akash = AkashIntegrationProvider(backend)
        prepared = akash.prepare(sdl)
        block_time = await akash.pricing_block_time()
        prices = []
        basis = "maximum"
        if params.dseq is not None:
            best = [r.best for r in await akash.bids(params.dseq)]
            prices = [b.bid.price for b in best if b is not None]
            basis = "current bids"
    from minds371_akash.market import Price

    if not prices:
        prices = [Price(denom=prepared.denom, amount=prepared.max_price_per_block)]
    report = cost_report(prices, prepared.needs, block_time=block_time)
    total = sum((p.amount for p in prices), Decimal(0))
    return {
        "basis": basis,
        "price_per_block": {"denom": prepared.denom, "amount": str(total)},
        "cost": report.summary(),
    }


@action(
    description="Find a registered service's verified endpoints, healthy ones first.",
    similes=["FIND_SERVICE", "RESOLVE_SERVICE", "LOOKUP_SERVICE"],
    read_only=True,
    idempotent=True,
)
async def DISCOVER_SERVICE(ctx: RunContext[Any], params: DiscoverParams) -> dict[str, Any]:
    """Resolve a name through the registry and probe its endpoints (none for a retired name)."""
    from minds371_registry import BlockchainRegistryProvider, HealthChecker
    from minds371_registry._settings import probe_private

    async with BlockchainRegistryProvider.default(read_only=True) as registry:
        record = await registry.resolve(params.name)
    async with (
        _probe_routes(ctx, record.record.network) as routes,
        HealthChecker(cache_ttl=0, routes=routes, allow_private=probe_private()) as checker,
    ):
        health = await checker.check_all(record.endpoints)
    return {
        "name": params.name,
        "status": "retired" if record.retired else "active",
        "sequence": record.record.sequence,
        "record_id": record.record_id,
        "endpoints": [h.model_dump(mode="json") for h in health],
    }


@asynccontextmanager
async def _probe_routes(ctx: RunContext[Any], network: str) -> AsyncIterator[list[Any]]:
    """Routes for probing the sandbox's ingress hosts: served, or the runtime's in-process one."""
    from minds371_deploy._probe import routes_for_network
    from minds371_registry._settings import probe_routes

    routes: list[Any] = probe_routes()
    if routes or network != "sandbox":
        yield routes
        return
    async with _backend(ctx, "sandbox") as backend:
        yield routes_for_network(network, backend)


def deployment_actions() -> list[Action]:
    """Every action of the deploy plugin."""
    return [
        DEPLOY_TO_AKASH,
        GET_DEPLOYMENT_STATUS,
        GET_DEPLOYMENT_LOGS,
        CLOSE_DEPLOYMENT,
        LIST_BIDS,
        ESTIMATE_COST,
        DISCOVER_SERVICE,
    ]
