"""Our actions for other agent hosts: MCP tools, LangChain tools, pydantic-ai toolsets.

Every adapter starts from the same :class:`~minds371.adapters.tools.ToolSpec` (one action turned
into a tool description: schemas, hints, notes, the secret rule) and calls the action through the
same :func:`~minds371.adapters.tools.call_action`, so the three hosts see one set of tools.

The frameworks are optional extras; importing this package needs none of them:

* ``minds371.adapters.mcp``: the ``minds371 mcp`` server (extra ``mcp``)
* ``minds371.adapters.langchain``: ``langchain_tools(runtime)`` (extra ``langchain``)
* ``minds371.adapters.pydantic_ai``: ``minds371_toolset(runtime)`` (extra ``pydantic-ai``)
"""

from minds371.adapters.tools import (
    SecretArgumentError,
    ToolHints,
    ToolSpec,
    call_action,
    secret_arguments,
    tool_spec,
    tool_specs,
)

__all__ = [
    "SecretArgumentError",
    "ToolHints",
    "ToolSpec",
    "call_action",
    "secret_arguments",
    "tool_spec",
    "tool_specs",
]
