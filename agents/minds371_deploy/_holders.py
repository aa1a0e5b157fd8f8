"""Which tasks of this home hold a deployment: for commands that know a deployment by its dseq.

``minds371 close`` and ``status`` are given a dseq; the tasks that deployed it (and their
replicas, on Console's layout) are in the home's state, if it was deployed from here.
"""

from __future__ import annotations

from pathlib import Path

from minds371.config import home
from minds371.state import SQLiteStateStore
from minds371.tasks import AgentType, TaskStatus
from minds371_deploy.saga import SagaState

__all__ = ["holders_of", "state_path"]


def state_path() -> Path:
    """The home's state database (the default runtime's)."""
    return home() / "state.db"


async def holders_of(dseq: int, network: str) -> list[tuple[str, SagaState]]:
    """The completed deployment tasks of this home that hold ``dseq`` on ``network``.

    Empty when the home has no state (deployed from elsewhere). Read without the runtime's lock,
    so a running runtime is not disturbed.
    """
    path = state_path()
    if not path.exists():
        return []
    found: list[tuple[str, SagaState]] = []
    async with SQLiteStateStore(path, exclusive=False) as store:
        records = await store.list_tasks(
            statuses=(TaskStatus.COMPLETED,), agent_type=AgentType.DEPLOYMENT, limit=-1
        )
        for record in records:
            state = SagaState.from_steps(await store.steps(record.task.id))
            if state.open_dseq == dseq and (state.output or {}).get("network") == network:
                found.append((record.task.id, state))
    return found
