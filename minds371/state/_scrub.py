"""Secrets never reach the state store: events, results and saga steps are scrubbed on the way in.

Events are what other agents read through ``handle.events()``, and results and steps are read
back by tools and by resumed sagas; none of them may hold an API key an error body echoed, a
mnemonic or a private key. The rules are :func:`minds371.logging.scrub`'s: secret-named fields
and secret-shaped text are replaced, public digests (a manifest ``version``, a ``tx_hash``) stay.
Task payloads are not scrubbed: they carry the credentials an agent needs to resume its task, and
the store is readable by its owner only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from minds371.logging import scrub
from minds371.tasks import TaskEvent, TaskResult

__all__ = ["scrub_event", "scrub_result", "scrub_step"]


def scrub_event(event: TaskEvent) -> TaskEvent:
    """The event with its message and data scrubbed."""
    message, data = scrub(event.message), scrub(event.data)
    if message == event.message and data == event.data:
        return event
    return event.model_copy(update={"message": message, "data": data})


def scrub_result(result: TaskResult) -> TaskResult:
    """The result with its output and its error's message and details scrubbed."""
    update: dict[str, Any] = {"output": scrub(result.output)}
    if result.error is not None:
        update["error"] = result.error.model_copy(
            update={"message": scrub(result.error.message), "details": scrub(result.error.details)}
        )
    return result.model_copy(update=update)


def scrub_step(data: Mapping[str, Any]) -> dict[str, Any]:
    """A saga step's data, scrubbed."""
    scrubbed: dict[str, Any] = scrub(dict(data))
    return scrubbed
