from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from pydantic import BaseModel, Field

from minds371 import ActionRegistry, AgentRuntime, MemoryStateStore, RunContext, Task, action
from minds371 import current_task as current
from minds371.errors import (
    ActionError,
    ActionNotFound,
    ConfigurationError,
    DuplicateRegistration,
    ValidationError,
)


class Transfer(BaseModel):
    recipient: str = Field(min_length=3, description="who receives the funds")
    amount: int = Field(gt=0, le=1_000)
    memo: str = ""


class Receipt(BaseModel):
    recipient: str
    amount: int


@action(
    description="Send funds to a recipient.",
    similes=["PAY", "SEND_MONEY"],
    examples=[{"recipient": "alice", "amount": 5}],
    spends_money=True,
    requires_approval=True,
)
async def TRANSFER(ctx: RunContext[dict[str, int]], params: Transfer) -> Receipt:
    ctx.deps["calls"] = ctx.deps.get("calls", 0) + 1
    return Receipt(recipient=params.recipient, amount=params.amount)


@action(read_only=True, idempotent=True)
async def PING(ctx: RunContext[None], params: Transfer) -> dict[str, Any]:
    """Answer pong."""
    return {"pong": True}


def registry() -> ActionRegistry:
    found = ActionRegistry()
    found.register(TRANSFER)
    found.register(PING)
    return found


async def test_execute_validates_runs_and_returns_json_ready_output() -> None:
    deps: dict[str, int] = {}
    output = await registry().execute(
        "TRANSFER", {"recipient": "alice", "amount": 7}, ctx=RunContext(deps=deps)
    )
    assert output == {"recipient": "alice", "amount": 7}
    assert deps == {"calls": 1}


async def test_bad_params_name_every_field_and_reason() -> None:
    with pytest.raises(ValidationError) as caught:
        await registry().execute("TRANSFER", {"recipient": "al", "amount": -1, "extra": 1})
    issues = {issue.path: issue.message for issue in caught.value.issues}
    assert set(issues) == {"/recipient", "/amount"}
    assert "at least 3 characters" in issues["/recipient"]
    assert "greater than 0" in issues["/amount"]
    assert "/recipient" in str(caught.value) and "/amount" in str(caught.value)


async def test_missing_field_is_named() -> None:
    with pytest.raises(ValidationError) as caught:
        await registry().execute("TRANSFER", {"recipient": "alice"})
    assert [(i.path, i.message) for i in caught.value.issues] == [
        ("/amount", "required field is missing")
    ]


async def test_unknown_action_raises_action_not_found_listing_known_ones() -> None:
    with pytest.raises(ActionNotFound) as caught:
        await registry().execute("NOPE", {})
    assert "PING" in str(caught.value) and "TRANSFER" in str(caught.value)


def test_duplicate_names_are_refused_at_registration() -> None:
    found = registry()
    with pytest.raises(DuplicateRegistration):
        found.register(TRANSFER)


def test_actions_are_validated_at_definition() -> None:
    async def no_params(ctx: RunContext[None], params: int) -> None:
        return None

    with pytest.raises(ConfigurationError):
        action(description="x")(no_params)
    with pytest.raises(ConfigurationError):
        action(name="bad name!", description="x")(PING.handler)
    with pytest.raises(ConfigurationError):
        action(description="x", examples=[{"amount": "many"}])(TRANSFER.handler)


def test_schemas_are_valid_json_schema_with_annotations() -> None:
    schemas = {s["name"]: s for s in registry().schemas()}
    assert list(schemas) == ["PING", "TRANSFER"]
    transfer = schemas["TRANSFER"]
    for key in ("input_schema", "output_schema"):
        jsonschema.Draft202012Validator.check_schema(transfer[key])
    assert transfer["input_schema"]["required"] == ["recipient", "amount"]
    assert transfer["annotations"] == {
        "read_only": False,
        "destructive": False,
        "idempotent": False,
        "spends_money": True,
        "requires_approval": True,
    }
    assert transfer["similes"] == ["PAY", "SEND_MONEY"]
    validator = jsonschema.Draft202012Validator(transfer["input_schema"])
    assert validator.is_valid({"recipient": "alice", "amount": 5})
    assert not validator.is_valid({"recipient": "alice", "amount": 0})
    assert schemas["PING"]["description"] == "Answer pong."
    mcp = PING.mcp_tool()
    assert mcp["annotations"]["readOnlyHint"] is True and "inputSchema" in mcp


async def test_a_handler_crash_becomes_an_action_error() -> None:
    found = ActionRegistry()

    @found.action(description="Divide by zero.")
    async def CRASH(ctx: RunContext[None], params: Transfer) -> dict[str, Any]:
        return {"x": 1 / 0}

    with pytest.raises(ActionError) as caught:
        await found.execute("CRASH", {"recipient": "alice", "amount": 1})
    assert "ZeroDivisionError" in str(caught.value)


async def test_actions_run_inside_a_task_report_progress_to_it() -> None:
    found = ActionRegistry()

    @found.action(description="Report progress.")
    async def PROGRESS(ctx: RunContext[None], params: Transfer) -> dict[str, Any]:
        await ctx.progress("progress.half", "half way", pct=50)
        return {"task": ctx.task_id}

    class Caller:
        agent_type = "caller"

        async def process_task(self, task: Task) -> dict[str, Any]:
            runtime = current().runtime
            out: dict[str, Any] = await runtime.execute_action(
                "PROGRESS", {"recipient": "alice", "amount": 1}
            )
            return out

    runtime = AgentRuntime(store=MemoryStateStore(), actions=found, load_plugins=False)
    runtime.register_agent(Caller())
    async with runtime:
        handle = await runtime.dispatch(Task(agent_type="caller"))
        result = await handle.result()
        events = [(e.type, e.data) async for e in handle.events()]
    assert result.output == {"task": handle.id}
    assert ("progress.half", {"pct": 50}) in events
