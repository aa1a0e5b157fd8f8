"""Secrets never reach the state store: events, results and saga steps are scrubbed on the way in.

Events are what other agents read through ``handle.events()``, and results and steps are read
back by tools and by resumed sagas; none of them may hold an API key an error body echoed, a
mnemonic or a private key. The rules are :func:`minds371.logging.scrub`'s: secret-named fields
and secret-shaped text are replaced, public digests (a manifest ``version``, a ``tx_hash``) stay.
Task payloads are not scrubbed: they carry the credentials an agent needs to resume its task, and
the store is readable by its owner only.

The runtime scrubs an event as it makes it (its followers see what the store keeps) and a result
before it answers with it, then hands both to the store, which scrubs on the way in again. The
last event and the last result scrubbed here are remembered, with the registered secrets'
generation: handed back at once, unchanged, under the same secrets, they are returned as they are
instead of being walked a second time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from minds371.logging import scrub, secrets_generation
from minds371.tasks import TaskEvent, TaskResult, TaskStatus

__all__ = ["new_event", "scrub_event", "scrub_result", "scrub_step"]

# (what was last scrubbed, the secrets' generation then); replaced whole, so threads never see
# half of one.
_clean_event: tuple[TaskEvent, int] | None = None
_clean_result: tuple[TaskResult, int] | None = None


def new_event(
    task_id: str, seq: int, kind: str, status: TaskStatus, message: str, data: Mapping[str, Any]
) -> TaskEvent:
    """A new event of a task (``kind`` is its dotted type), its message and data scrubbed.

    Built from the scrubbed values once, instead of built, scrubbed, compared and copied.
    """
    global _clean_event
    generation = secrets_generation()
    event = TaskEvent.model_validate(
        {
            "task_id": task_id,
            "seq": seq,
            "type": kind,
            "status": status,
            "message": scrub(message),
            "data": scrub(data if type(data) is dict else dict(data)),
        }
    )
    _clean_event = (event, generation)
    return event


def scrub_event(event: TaskEvent) -> TaskEvent:
    """The event with its message and data scrubbed."""
    global _clean_event
    generation = secrets_generation()
    clean = _clean_event
    if clean is not None and clean[0] is event and clean[1] == generation:
        return event
    message, data = scrub(event.message), scrub(event.data)
    if not (message == event.message and data == event.data):
        event = event.model_copy(update={"message": message, "data": data})
    _clean_event = (event, generation)
    return event


def scrub_result(result: TaskResult) -> TaskResult:
    """The result with its output and its error's message and details scrubbed."""
    global _clean_result
    generation = secrets_generation()
    clean = _clean_result
    if clean is not None and clean[0] is result and clean[1] == generation:
        return result
    update: dict[str, Any] = {"output": scrub(result.output)}
    if result.error is not None:
        update["error"] = result.error.model_copy(
            update={"message": scrub(result.error.message), "details": scrub(result.error.details)}
        )
    result = result.model_copy(update=update)
    _clean_result = (result, generation)
    return result


def scrub_step(data: Mapping[str, Any]) -> dict[str, Any]:
    """A saga step's data, scrubbed (a new dict: scrubbing copies a mapping as it goes)."""
    scrubbed: dict[str, Any] = scrub(data)
    return scrubbed
