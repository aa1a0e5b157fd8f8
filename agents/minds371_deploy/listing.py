"""Every deployment this state directory knows: what ``minds371 list`` (``ps``) shows.

The rows come from the deployment tasks' sagas in the state store (read-only, so a list works
while a deploy runs); open deployments are then asked about on their network for their live
state and escrow, from which the runway (how long the escrow pays the leases) follows. A
network that cannot be asked leaves those two unknown, said so, and the list still prints.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from minds371.errors import Minds371Error
from minds371.state import StateStore
from minds371.tasks import AgentType, utcnow
from minds371_deploy.saga import SagaState
from minds371_deploy.update import GIVEN_BACK, HANDED_OVER, recorded_plan

__all__ = ["DeploymentRow", "deployment_rows", "with_live_state"]


@dataclass(slots=True)
class DeploymentRow:
    """One deployment this home knows.

    Attributes:
        name: The registry name of its request.
        network: ``sandbox``, ``console`` or ``cli``.
        dseq: Its deployment sequence number.
        state: ``open``, ``closed``, ``failed`` (its task failed; closed by it) or ``gone``
            (its network does not know it any more); ``active`` or ``closed`` once asked live.
        task_id: The task that holds it.
        providers: Its leases' providers (its replicas' too).
        usd_per_month: What its leases cost, when known (its replicas' too).
        created_at: When it was made (by the first task, for one updated in place).
        runway_seconds: How long its escrow pays its leases, when known (the shortest of its
            replicas' escrows: each replica is paid from its own).
        note: Why something is unknown, or why it was closed.
        replicas: The deployments of its replicas 2…N, where each is one of its own (Console).
    """

    name: str
    network: str
    dseq: int
    state: str
    task_id: str
    providers: list[str] = field(default_factory=list)
    usd_per_month: float | None = None
    created_at: datetime | None = None
    runway_seconds: float | None = None
    note: str = ""
    replicas: list[int] = field(default_factory=list)

    @property
    def is_open(self) -> bool:
        """Whether it may still be running (and paid for)."""
        return self.state in ("open", "active")

    def as_dict(self) -> dict[str, Any]:
        """The row as ``list --json`` prints it."""
        return {
            "name": self.name,
            "network": self.network,
            "dseq": str(self.dseq),
            "state": self.state,
            "task_id": self.task_id,
            "providers": self.providers,
            "usd_per_month": self.usd_per_month,
            "runway_seconds": self.runway_seconds,
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "age_seconds": self.age_seconds,
            "note": self.note,
            "replicas": [str(dseq) for dseq in self.replicas],
        }

    @property
    def age_seconds(self) -> float | None:
        """Seconds since its task was dispatched."""
        if self.created_at is None:
            return None
        return round((utcnow() - self.created_at).total_seconds(), 1)


async def deployment_rows(
    store: StateStore, *, include_closed: bool = False
) -> list[DeploymentRow]:
    """Every deployment the store's deployment tasks made, newest first.

    Only open ones unless ``include_closed``; a deployment handed over by an in-place update
    appears once, under the task that updated it.
    """
    rows: list[DeploymentRow] = []
    records = await store.list_tasks(agent_type=AgentType.DEPLOYMENT, limit=-1)
    created = {record.task.id: record.task.created_at for record in records}
    updated_from: dict[str, str] = {}  # task -> the task whose deployment it updated in place
    states: dict[str, SagaState] = {}
    for record in records:
        steps = await store.steps(record.task.id)
        states[record.task.id] = SagaState.from_steps(steps)
        plan = recorded_plan(steps)
        if plan is not None and plan.kind == "in_place" and plan.previous_task is not None:
            updated_from[record.task.id] = plan.previous_task
    for record in records:
        state = states[record.task.id]
        if state.dseq is None:
            continue
        if state.closed in (HANDED_OVER, GIVEN_BACK):
            continue  # the task that holds it now lists it
        previous = states.get(updated_from.get(record.task.id, ""))
        if previous is not None and previous.open_dseq == state.dseq:
            continue  # updated in place, not yet handed over: the old task still lists it
        output = state.output or {}
        payload = record.task.payload
        if state.closed is not None:
            status, note = "closed", _closed_note(state.closed)
        elif state.output is None:
            status, note = "open", f"its task is {record.status.value}"
        else:
            status, note = "open", ""
        replicas = sorted(state.open_replicas().values()) if state.open_dseq is not None else []
        providers = set(state.leased or [lease["provider"] for lease in output.get("leases", [])])
        providers |= {  # a replica's leases name its own deployment
            lease["provider"]
            for lease in output.get("leases", [])
            if lease.get("dseq") in {str(dseq) for dseq in replicas}
        }
        cost = output.get("cost") or {}
        rows.append(
            DeploymentRow(
                name=str(output.get("name") or payload.get("name") or "?"),
                network=str(output.get("network") or payload.get("network") or "sandbox"),
                dseq=state.dseq,
                state=status,
                task_id=record.task.id,
                providers=sorted(providers),
                usd_per_month=cost.get("usd_per_month"),
                created_at=_first_created(record.task.id, created, updated_from),
                note=note,
                replicas=replicas,
            )
        )
    return [row for row in rows if include_closed or row.is_open]


def _first_created(
    task_id: str, created: dict[str, datetime], updated_from: dict[str, str]
) -> datetime | None:
    """When the deployment was made: by the first task of its chain of in-place updates."""
    seen = {task_id}
    while task_id in updated_from and updated_from[task_id] in created:
        task_id = updated_from[task_id]
        if task_id in seen:
            break
        seen.add(task_id)
    return created.get(task_id)


def _closed_note(reason: str) -> str:
    return {
        "failure": "closed after its deployment failed",
        "replaced": "closed: replaced by a newer deployment",
        "ttl": "closed when its ttl ran out",
        "idle": "closed: its idle probe showed no activity for its idle time",
        "reconcile": "closed by reconcile (its task had ended)",
        "gone": "its network no longer knows it",
        "closed": "closed on its network",
    }.get(reason, f"closed ({reason})")


async def with_live_state(rows: Sequence[DeploymentRow], open_provider: Any) -> None:
    """Ask each open row's network for its live state and escrow (and so its runway).

    ``open_provider(network)`` is an async context manager that gives an
    :class:`~minds371_akash.AkashIntegrationProvider` for that network.
    """
    from minds371_akash.market import NotFound
    from minds371_akash.pricing import DEFAULT_BLOCK_TIME

    by_network: dict[str, list[DeploymentRow]] = {}
    for row in rows:
        if row.is_open:
            by_network.setdefault(row.network, []).append(row)
    for network, group in by_network.items():
        try:
            async with open_provider(network) as akash:
                block_time = await akash.pricing_block_time() or DEFAULT_BLOCK_TIME
                for row in group:
                    try:
                        deployment = await akash.status(row.dseq)
                    except NotFound:
                        row.state, row.note = "gone", "its network no longer knows it"
                        continue
                    row.state = deployment.state
                    row.runway_seconds = _runway(deployment, block_time)
                    if deployment.active:
                        await _with_replicas(akash, row, block_time)
        except Minds371Error as exc:
            for row in group:
                row.note = f"not checked: {exc.message}"


async def _with_replicas(akash: Any, row: DeploymentRow, block_time: float) -> None:
    """Shorten the row's runway to its replicas' shortest, and note a replica not running."""
    from minds371_akash.market import NotFound

    down: list[str] = []
    for dseq in row.replicas:
        try:
            replica = await akash.status(dseq)
        except NotFound:
            down.append(f"{dseq} gone")
            continue
        if not replica.active:
            down.append(f"{dseq} {replica.state}")
            continue
        runway = _runway(replica, block_time)
        if runway is not None and (row.runway_seconds is None or runway < row.runway_seconds):
            row.runway_seconds = runway
    if down:
        row.note = "replica deployment " + ", ".join(down)


def _runway(deployment: Any, block_time: float) -> float | None:
    escrow = deployment.escrow
    per_block = sum((lease.price.amount for lease in deployment.active_leases), Decimal(0))
    if escrow is None or per_block <= 0:
        return None
    return float(escrow.funds / per_block * Decimal(str(block_time)))
