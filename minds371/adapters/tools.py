"""One registered action as a tool, as every adapter (MCP, LangChain, pydantic-ai) offers it.

:func:`tool_spec` is the only place where an :class:`~minds371.actions.Action` becomes a tool:
its name, its description with a note on money and approval, its input schema without the
secret-bearing fields, its output schema, and its annotations mapped to MCP's hints.

Secrets (API keys, keys, registry passwords) come from the host's configuration, never from a
tool's arguments: a field the parameters schema marks as a secret (``writeOnly``, or
``format: password``, which is how pydantic writes ``SecretStr``) is left out of the tool's input
schema together with the object that needs it (a registry login without its password is no
login), and :func:`call_action` refuses arguments that carry one anyway, naming the field and
never the value.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from minds371.actions import Action, ActionRegistry, RunContext
from minds371.adapters._secrets import SchemaSecrets, prune_secrets
from minds371.errors import FieldIssue, Minds371Error, ValidationError
from minds371.logging import redact

__all__ = [
    "SECRET_RULE",
    "Emit",
    "SecretArgumentError",
    "ToolHints",
    "ToolSource",
    "ToolSpec",
    "by_name",
    "call_action",
    "refuse_secrets",
    "secret_arguments",
    "structured",
    "tool_spec",
    "tool_specs",
]

SECRET_RULE = (
    "secrets (API keys, keys, registry passwords) come from the server's configuration, "
    "never from tool arguments"
)

Emit = Callable[[str, str, Mapping[str, Any]], Awaitable[Any]]
"""A progress sink: ``(event type, message, data)``."""


class ToolSource(Protocol):
    """What adapters build tools from: an :class:`~minds371.AgentRuntime`, or the like.

    Anything with the runtime's ``actions`` and ``deps`` will do.
    """

    @property
    def actions(self) -> ActionRegistry:
        """The actions to offer."""

    @property
    def deps(self) -> Any:
        """The dependencies handed to them."""


class SecretArgumentError(ValidationError):
    """A tool call tried to pass a secret as an argument; nothing ran."""


@dataclass(frozen=True, slots=True)
class ToolHints:
    """The MCP tool annotations of an action.

    ``open_world`` is always true: the registry has no closed-world annotation, our actions reach
    networks and registries outside the process, and true is MCP's own default when unsure.
    """

    read_only: bool
    destructive: bool
    idempotent: bool
    open_world: bool = True

    def mcp(self) -> dict[str, bool]:
        """As MCP's ``ToolAnnotations`` fields (camelCase, as on the wire)."""
        return {
            "readOnlyHint": self.read_only,
            "destructiveHint": self.destructive,
            "idempotentHint": self.idempotent,
            "openWorldHint": self.open_world,
        }


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """An action as a tool, ready for any host.

    Attributes:
        name: The action's name.
        title: A human title (the name in words).
        description: The action's description, then the note (if any).
        note: What a host must know before calling it: it spends money, it asks for approval.
        input_schema: The parameters' JSON Schema, less the secret-bearing fields.
        output_schema: The output's JSON Schema (an object, as MCP requires).
        hints: The MCP annotations.
        spends_money: The action may cost money.
        requires_approval: A host that can ask a person first should do so.
        secret_fields: The schema paths left out as secret-bearing.
        action: The action itself.
    """

    name: str
    title: str
    description: str
    note: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]
    hints: ToolHints
    spends_money: bool
    requires_approval: bool
    secret_fields: tuple[str, ...]
    action: Action = field(repr=False)

    def meta(self) -> dict[str, Any]:
        """The annotations MCP has no hint for, under our own namespace (a tool's ``_meta``)."""
        return {
            "minds371/spends_money": self.spends_money,
            "minds371/requires_approval": self.requires_approval,
        }

    def mcp_tool(self) -> dict[str, Any]:
        """As an MCP ``Tool`` object (wire field names)."""
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "inputSchema": self.input_schema,
            "outputSchema": self.output_schema,
            "annotations": {"title": self.title, **self.hints.mcp()},
            "_meta": self.meta(),
        }


def tool_spec(item: Action) -> ToolSpec:
    """The tool description of one action (see the module's docs)."""
    notes = []
    marks = item.annotations
    if marks.spends_money:
        notes.append("It spends money (a deposit and lease payments); confirm with the user first.")
    if marks.requires_approval and not marks.spends_money:
        notes.append("It needs approval: confirm with the user first.")
    if marks.destructive:
        notes.append("It cannot be undone.")
    note = " ".join(notes)
    original = item.input_schema()
    pruned, removed = prune_secrets(original)
    if removed:
        note = f"{note} {SECRET_RULE[0].upper()}{SECRET_RULE[1:]}.".strip()
    description = item.description.strip() + (f"\n\n{note}" if note else "")
    return ToolSpec(
        name=item.name,
        title=item.name.replace("_", " ").replace("-", " ").capitalize(),
        description=description,
        note=note,
        input_schema=pruned,
        output_schema=_object_schema(item.output_schema()),
        hints=ToolHints(
            read_only=marks.read_only,
            # MCP reads destructiveHint only when readOnlyHint is false.
            destructive=marks.destructive and not marks.read_only,
            idempotent=marks.idempotent,
        ),
        spends_money=marks.spends_money,
        requires_approval=marks.requires_approval,
        secret_fields=tuple(removed),
        action=item,
    )


def tool_specs(source: ToolSource | ActionRegistry) -> list[ToolSpec]:
    """Every registered action as a tool, sorted by name."""
    registry = source if isinstance(source, ActionRegistry) else source.actions
    return [tool_spec(item) for item in registry.list()]


def _object_schema(schema: dict[str, Any]) -> dict[str, Any]:
    # MCP's outputSchema (and structuredContent) must be an object; anything else is wrapped.
    if schema.get("type") == "object":
        return schema
    return {"type": "object", "properties": {"result": schema}, "required": ["result"]}


# -- the secret rule ------------------------------------------------------------------------------


def secret_arguments(spec: ToolSpec, arguments: Mapping[str, Any]) -> list[str]:
    """The paths of ``arguments`` that carry a secret-bearing field (empty: none do).

    Besides the fields the schema marks, a parameters model may name secrets its schema cannot
    see (a password inside a document given as text) with a classmethod
    ``secret_inputs(raw arguments) -> list of paths``.
    """
    schema = spec.action.input_schema()
    walker = SchemaSecrets(schema)
    found: list[str] = []
    walker.find(arguments, schema, "", found)
    extra = getattr(spec.action.parameters, "secret_inputs", None)
    if callable(extra):
        found.extend(path for path in extra(dict(arguments)) if path not in found)
    return found


def refuse_secrets(spec: ToolSpec, arguments: Mapping[str, Any]) -> None:
    """Refuse ``arguments`` that carry a secret-bearing field.

    Raises:
        SecretArgumentError: naming each such field (never its value).
    """
    paths = secret_arguments(spec, arguments)
    if paths:
        raise SecretArgumentError(
            [FieldIssue(path, f"refused: {SECRET_RULE}") for path in paths],
            subject=f"arguments of tool {spec.name}",
        )


# -- calling --------------------------------------------------------------------------------------


async def call_action(
    source: ToolSource | ActionRegistry,
    spec: ToolSpec,
    arguments: Mapping[str, Any] | None,
    *,
    emit: Emit | None = None,
) -> Any:
    """Run the action behind ``spec`` with ``arguments``, as every adapter does.

    Secret-bearing arguments are refused before anything runs; the rest is validated by the
    action (every bad field named) and run with the runtime's dependencies. ``emit`` receives
    the action's progress events (a deployment's task events).

    Raises:
        SecretArgumentError: an argument carries a secret (nothing ran).
        ValidationError: the arguments do not validate.
        Minds371Error: whatever the action raised.
    """
    given = dict(arguments or {})
    refuse_secrets(spec, given)
    if isinstance(source, ActionRegistry):
        registry, deps, runtime = source, None, None
    else:
        registry, deps, runtime = source.actions, source.deps, source
    ctx: RunContext[Any] = RunContext(deps=deps, runtime=runtime, emit=emit)
    return await registry.execute(spec.name, given, ctx=ctx)


def failure_text(spec: ToolSpec, exc: Minds371Error) -> str:
    """What a framework's tool error says of a failed call, secrets redacted.

    A refused input names its subject and every issue (the model can correct and call again);
    any other failure names the tool and the error.
    """
    if isinstance(exc, ValidationError):
        issues = "; ".join(redact(str(issue)) for issue in exc.issues)
        return f"invalid {exc.subject}: {issues}"
    return f"{spec.name} failed: {redact(exc.message)}"


def structured(spec: ToolSpec, output: Any) -> dict[str, Any]:
    """An action's output as the object its tool's output schema describes."""
    if spec.action.output_schema().get("type") == "object":
        if isinstance(output, dict):
            return output
    return {"result": output}


def by_name(specs: Iterable[ToolSpec]) -> dict[str, ToolSpec]:
    """Tools by name."""
    return {spec.name: spec for spec in specs}
