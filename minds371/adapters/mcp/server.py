"""The MCP server: every registered action as a tool, the plugins' resources, over any transport.

Built on the official MCP Python SDK's low-level ``Server`` so that each tool's input and output
schemas are exactly the action's (:mod:`minds371.adapters.tools`), not re-derived from a
function signature.

* ``tools/list``: every action, with its schemas (secret-bearing fields left out), the hints
  ``readOnlyHint``/``destructiveHint``/``idempotentHint``/``openWorldHint``, a note in the
  description and ``_meta`` flags for ``spends_money``/``requires_approval``.
* ``tools/call``: arguments carrying a secret are refused; a spending tool is confirmed first
  (:class:`ConfirmSpend`); the action's progress events (a deployment's task events) become
  ``notifications/progress`` when the client sent a progress token; a client's
  ``notifications/cancelled`` cancels the call, and with it the task (which closes what it
  created).
* ``resources/*``: what the plugins' ``resources`` hook contributes
  (``minds371://deployments/{dseq}``).
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping, Sequence
from typing import Any

import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.shared.exceptions import MCPError

from minds371.adapters.resources import ResourceTemplate
from minds371.adapters.tools import (
    SecretArgumentError,
    ToolSource,
    ToolSpec,
    by_name,
    call_action,
    refuse_secrets,
    structured,
    tool_specs,
)
from minds371.errors import Minds371Error, ProviderError, ValidationError
from minds371.logging import get_logger, redact

__all__ = ["ConfirmSpend", "build_server"]

_log = get_logger("minds371.mcp")

_CONFIRM_KEY = "minds371-confirm-spend"
_CONFIRM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "confirm": {
            "type": "boolean",
            "title": "Spend money",
            "description": "true to go ahead and pay for it",
        }
    },
    "required": ["confirm"],
}


class ConfirmSpend(enum.Enum):
    """What the server does before a tool that spends money runs.

    ``ELICIT`` (the default): ask the client's user (MCP elicitation); without a yes, or with a
    client that cannot ask, the call is refused and nothing is spent. ``NEVER``: do not ask (the
    host confirms on its own). ``REFUSE``: every spending tool is refused.
    """

    ELICIT = "elicit"
    NEVER = "never"
    REFUSE = "refuse"


def build_server(
    source: ToolSource,
    *,
    resources: Sequence[ResourceTemplate] = (),
    confirm_spend: ConfirmSpend = ConfirmSpend.ELICIT,
    name: str = "minds371",
    version: str = "0",
) -> Server[Any]:
    """An MCP server offering ``source``'s actions and ``resources``."""
    specs = by_name(tool_specs(source))
    tools = [_tool(spec) for spec in specs.values()]

    async def list_tools(
        ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=tools)

    async def call_tool(
        ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult | types.InputRequiredResult:
        spec = specs.get(params.name)
        if spec is None:
            return _error(f"no tool named {params.name!r}; tools: {', '.join(sorted(specs))}")
        arguments = dict(params.arguments or {})
        _log.info("minds371.mcp.tool_called", tool=spec.name)
        progress = _Progress(ctx)
        try:
            # Secrets are refused before anything else: a confirmation must not show them.
            refuse_secrets(spec, arguments)
            spec.action.validate_params(arguments)  # never ask to confirm a call that cannot run
            refusal = await _confirm(ctx, params, spec, arguments, confirm_spend)
            if isinstance(refusal, types.InputRequiredResult):
                return refusal
            if refusal is not None:
                return _error(refusal)
            output = await call_action(source, spec, arguments, emit=progress.emit)
        except ValidationError as exc:
            kind = "refused" if isinstance(exc, SecretArgumentError) else "invalid"
            lines = [f"{kind} {exc.subject}:"] + [f"  {redact(str(i))}" for i in exc.issues]
            return _error("\n".join(lines))
        except Minds371Error as exc:
            temporary = isinstance(exc, ProviderError) and exc.retryable
            prefix = "temporary error" if temporary else "error"
            return _error(f"{prefix}: {redact(exc.message)}")
        document = structured(spec, output)
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=json.dumps(document, default=str))],
            structured_content=document,
        )

    handlers: dict[str, Any] = {"on_list_tools": list_tools, "on_call_tool": call_tool}
    if resources:
        handlers |= _resource_handlers(resources)
    return Server(name, version=version, **handlers)


def _resource_handlers(resources: Sequence[ResourceTemplate]) -> dict[str, Any]:
    """The ``resources/list``, ``resources/templates/list`` and ``resources/read`` handlers."""

    async def list_resources(
        ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListResourcesResult:
        found: list[types.Resource] = []
        for template in resources:
            for entry in await template.list():
                found.append(
                    types.Resource(
                        uri=entry.uri,
                        name=entry.name,
                        description=entry.description or None,
                        mime_type=template.mime_type,
                    )
                )
        return types.ListResourcesResult(resources=found)

    async def list_templates(
        ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListResourceTemplatesResult:
        return types.ListResourceTemplatesResult(
            resource_templates=[
                types.ResourceTemplate(
                    name=t.name,
                    uri_template=t.uri_template,
                    description=t.description,
                    mime_type=t.mime_type,
                )
                for t in resources
            ]
        )

    async def read_resource(
        ctx: ServerRequestContext[Any], params: types.ReadResourceRequestParams
    ) -> types.ReadResourceResult:
        uri = str(params.uri)
        for template in resources:
            variables = template.match(uri)
            if variables is None:
                continue
            try:
                data = await template.read(variables)
            except Minds371Error as exc:
                raise MCPError(types.INVALID_PARAMS, f"{uri}: {redact(exc.message)}") from None
            text = json.dumps(data, default=str)
            return types.ReadResourceResult(
                contents=[
                    types.TextResourceContents(uri=uri, mime_type=template.mime_type, text=text)
                ]
            )
        known = ", ".join(t.uri_template for t in resources) or "none"
        raise MCPError(types.INVALID_PARAMS, f"no resource {uri!r}; templates: {known}")

    return {
        "on_list_resources": list_resources,
        "on_list_resource_templates": list_templates,
        "on_read_resource": read_resource,
    }


def _tool(spec: ToolSpec) -> types.Tool:
    hints = spec.hints
    return types.Tool(
        name=spec.name,
        title=spec.title,
        description=spec.description,
        input_schema=spec.input_schema,
        output_schema=spec.output_schema,
        annotations=types.ToolAnnotations(
            title=spec.title,
            read_only_hint=hints.read_only,
            destructive_hint=hints.destructive,
            idempotent_hint=hints.idempotent,
            open_world_hint=hints.open_world,
        ),
        meta=spec.meta(),
    )


def _error(text: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=text)], is_error=True)


class _Progress:
    """An action's events as this request's progress notifications (none without a token)."""

    def __init__(self, ctx: ServerRequestContext[Any]) -> None:
        self._ctx = ctx
        self._count = 0

    async def emit(self, type: str, message: str, data: Mapping[str, Any]) -> None:
        self._count += 1
        await self._ctx.session.report_progress(self._count, None, f"{type}: {message}")


async def _confirm(
    ctx: ServerRequestContext[Any],
    params: types.CallToolRequestParams,
    spec: ToolSpec,
    arguments: Mapping[str, Any],
    mode: ConfirmSpend,
) -> str | types.InputRequiredResult | None:
    """``None`` to go ahead, else why the call is refused (nothing spent), or the question.

    A connection of the handshake era is asked over the back-channel (``elicitation/create``);
    a 2026-07-28 connection has none, so the question goes back as an ``InputRequiredResult``
    and the client calls again with the user's answer.
    """
    if not spec.spends_money or mode is ConfirmSpend.NEVER:
        return None
    if mode is ConfirmSpend.REFUSE:
        return f"refused: {spec.name} spends money and this server runs with --confirm-spend refuse"
    capabilities = ctx.session.client_capabilities
    if capabilities is None or capabilities.elicitation is None:
        return (
            f"refused: {spec.name} spends money and needs a confirmation this client cannot ask "
            "for (no elicitation support); nothing was spent. Run the server with "
            "--confirm-spend never to let such clients spend without asking"
        )
    # Secret fields were refused already; redaction catches key-like values in the rest (a
    # workload's environment, say) before the question is shown to anyone.
    summary = json.dumps(redact(dict(arguments)), default=str, sort_keys=True)
    if len(summary) > 600:
        summary = summary[:600] + "…"
    question = f"{spec.name} spends money. Arguments: {summary}. Go ahead?"
    given = (params.input_responses or {}).get(_CONFIRM_KEY)
    if isinstance(given, types.ElicitResult):
        answer = given
    elif ctx.session.can_send_request:
        try:
            answer = await ctx.session.elicit_form(
                question, _CONFIRM_SCHEMA, related_request_id=ctx.request_id
            )
        except MCPError as exc:
            return (
                f"refused: the client could not ask for a confirmation ({exc}); nothing was spent"
            )
    else:
        form = types.ElicitRequestFormParams(message=question, requested_schema=_CONFIRM_SCHEMA)
        return types.InputRequiredResult(
            input_requests={_CONFIRM_KEY: types.ElicitRequest(params=form)},
            request_state=_CONFIRM_KEY,
        )
    if answer.action == "accept" and (answer.content or {}).get("confirm") is True:
        _log.info("minds371.mcp.spend_confirmed", tool=spec.name)
        return None
    return f"refused: the user did not confirm {spec.name} ({answer.action}); nothing was spent"
