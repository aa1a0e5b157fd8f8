"""Our actions as a pydantic-ai toolset (``pip install "minds371[pydantic-ai]"``).

::

    agent = Agent(model, toolsets=[minds371_toolset(runtime)])

Each tool has the action's input schema (secret-bearing fields left out, and refused if given
anyway) and its description with the note on money and approval; the annotations are in the
tool's ``metadata`` (``readOnlyHint`` ... as in MCP, plus ``spends_money``,
``requires_approval`` and the ``output_schema``). An action that requires approval is a
pydantic-ai tool with ``requires_approval=True``: the run ends with ``DeferredToolRequests`` for
the host to approve (pass ``approvals=False`` to call such tools directly). Bad arguments go
back to the model as a retry naming the field; a failure ends the call with ``ToolFailed``.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic_ai import Tool
from pydantic_ai.exceptions import ModelRetry, ToolFailed
from pydantic_ai.toolsets import FunctionToolset

from minds371.actions import ActionRegistry
from minds371.adapters.tools import (
    Emit,
    ToolSource,
    ToolSpec,
    call_action,
    failure_text,
    structured,
    tool_specs,
)
from minds371.errors import Minds371Error, ValidationError

__all__ = ["minds371_toolset", "pydantic_ai_tool"]


def minds371_toolset(
    source: ToolSource | ActionRegistry,
    *,
    approvals: bool = True,
    on_progress: Emit | None = None,
) -> FunctionToolset[Any]:
    """Every registered action as one pydantic-ai ``FunctionToolset`` (id ``minds371``).

    Args:
        source: The runtime (or a bare registry) whose actions to offer.
        approvals: Mark actions that require approval as pydantic-ai approval-required tools.
        on_progress: Receives the actions' progress events (a deployment's task events).
    """
    tools = [
        pydantic_ai_tool(source, spec, approvals=approvals, on_progress=on_progress)
        for spec in tool_specs(source)
    ]
    return FunctionToolset(tools, id="minds371")


def pydantic_ai_tool(
    source: ToolSource | ActionRegistry,
    spec: ToolSpec,
    *,
    approvals: bool = True,
    on_progress: Emit | None = None,
) -> Tool[Any]:
    """One action (``spec``) as a pydantic-ai ``Tool`` with its JSON schema."""

    async def run(**arguments: Any) -> Any:
        try:
            output = await call_action(source, spec, arguments, emit=on_progress)
        except ValidationError as exc:
            raise ModelRetry(failure_text(spec, exc)) from None
        except Minds371Error as exc:
            raise ToolFailed(failure_text(spec, exc)) from None
        return json.loads(json.dumps(structured(spec, output), default=str))

    tool: Tool[Any] = Tool.from_schema(
        run, name=spec.name, description=spec.description, json_schema=spec.input_schema
    )
    tool.requires_approval = approvals and spec.requires_approval
    tool.metadata = {
        **spec.hints.mcp(),
        "spends_money": spec.spends_money,
        "requires_approval": spec.requires_approval,
        "output_schema": spec.output_schema,
    }
    return tool
