"""Runtime state: tasks, events, results and saga steps (see :class:`StateStore`).

:class:`SQLiteStateStore` is the durable default, under ``$MINDS371_HOME``;
:class:`MemoryStateStore` is for tests and for embedding without persistence.
"""

from minds371.state._protocol import SagaStep, StateStore, TaskRecord
from minds371.state.memory import MemoryStateStore
from minds371.state.sqlite import SQLiteStateStore

__all__ = ["MemoryStateStore", "SQLiteStateStore", "SagaStep", "StateStore", "TaskRecord"]
