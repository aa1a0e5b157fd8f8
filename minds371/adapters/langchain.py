"""Our actions as LangChain tools (``pip install "minds371[langchain]"``).

::

    tools = langchain_tools(runtime)          # one StructuredTool per registered action
    model = model.bind_tools(tools)           # any chat model that calls tools
    message = await tools_by_name[call["name"]].ainvoke(call)   # a ToolCall -> ToolMessage

Each tool has the action's input schema (secret-bearing fields left out, and refused if given
anyway), its description with the note on money and approval, and the annotations in
``metadata`` (``readOnlyHint`` ... as in MCP, plus ``spends_money`` and ``requires_approval``)
and ``tags``, for a host that asks a person before such a call. The tools are async
(``ainvoke``): deployments run on the runtime's event loop. An action's progress events
(a deployment's task events) are dispatched as the custom callback event ``minds371.progress``.
A failure is returned to the model as the tool's error message, never with a secret.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from langchain_core.callbacks import adispatch_custom_event
from langchain_core.tools import BaseTool, StructuredTool, ToolException

from minds371.actions import ActionRegistry
from minds371.adapters.tools import (
    ToolSource,
    ToolSpec,
    call_action,
    failure_text,
    structured,
    tool_specs,
)
from minds371.errors import Minds371Error

__all__ = ["PROGRESS_EVENT", "langchain_tool", "langchain_tools"]

PROGRESS_EVENT = "minds371.progress"
"""The name of the custom callback event carrying an action's progress."""


def langchain_tools(source: ToolSource | ActionRegistry) -> list[BaseTool]:
    """Every registered action as a LangChain tool, sorted by name."""
    return [langchain_tool(source, spec) for spec in tool_specs(source)]


def langchain_tool(source: ToolSource | ActionRegistry, spec: ToolSpec) -> BaseTool:
    """One action (``spec``) as a LangChain ``StructuredTool``."""

    async def run(**arguments: Any) -> str:
        async def progress(type: str, message: str, data: Mapping[str, Any]) -> None:
            await adispatch_custom_event(
                PROGRESS_EVENT, {"tool": spec.name, "type": type, "message": message}
            )

        try:
            output = await call_action(source, spec, arguments, emit=progress)
        except Minds371Error as exc:
            raise ToolException(failure_text(spec, exc)) from None
        return json.dumps(structured(spec, output), default=str)

    tags = [name for name, on in _flags(spec).items() if on]
    return StructuredTool.from_function(
        coroutine=run,
        name=spec.name,
        description=spec.description,
        args_schema=spec.input_schema,
        infer_schema=False,
        handle_tool_error=True,
        metadata={
            **spec.hints.mcp(),
            "spends_money": spec.spends_money,
            "requires_approval": spec.requires_approval,
            "output_schema": spec.output_schema,
        },
        tags=["minds371", *tags],
    )


def _flags(spec: ToolSpec) -> dict[str, bool]:
    return {
        "read_only": spec.hints.read_only,
        "destructive": spec.hints.destructive,
        "idempotent": spec.hints.idempotent,
        "spends_money": spec.spends_money,
        "requires_approval": spec.requires_approval,
    }
