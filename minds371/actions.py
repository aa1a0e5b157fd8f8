"""The action registry: tools that agents, LLMs and MCP hosts can call by name.

An :class:`Action` is an async handler with a pydantic parameters model, an optional output type,
and annotations that tell a host how careful to be (``read_only``, ``destructive``, ``idempotent``,
``spends_money``, ``requires_approval``). Handlers take a :class:`RunContext` first and the
validated parameters second::

    class Greet(BaseModel):
        name: str

    @action(description="Say hello.", read_only=True)
    async def GREET(ctx: RunContext[None], params: Greet) -> dict[str, str]:
        return {"greeting": f"hello {params.name}"}

    registry = ActionRegistry()
    registry.register(GREET)
    await registry.execute("GREET", {"name": "ada"})

Registration validates the action and refuses a duplicate name; execution validates the
parameters (every bad field named), runs the handler and validates its output.
"""

from __future__ import annotations

import builtins
import inspect
import re
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, get_type_hints, overload

import pydantic
from pydantic import BaseModel, TypeAdapter
from pydantic_core import PydanticSerializationError

from minds371.errors import (
    ActionError,
    ActionNotFound,
    ConfigurationError,
    DuplicateRegistration,
    Minds371Error,
    ValidationError,
)
from minds371.logging import get_logger

__all__ = [
    "Action",
    "ActionAnnotations",
    "ActionRegistry",
    "RunContext",
    "action",
]

DepsT = TypeVar("DepsT")
ParamsT = TypeVar("ParamsT", bound=BaseModel)

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
_log = get_logger("minds371.actions")

Handler = Callable[["RunContext[Any]", Any], Awaitable[Any]]


@dataclass(slots=True)
class RunContext(Generic[DepsT]):
    """What an action handler receives besides its parameters.

    Attributes:
        deps: The host's typed dependencies (clients, configuration, ...).
        action: The name of the action being run.
        task_id: The task on whose behalf it runs, when there is one.
        emit: Emit a progress event ``(type, message, data)`` for that task, when there is one.
        runtime: The :class:`~minds371.AgentRuntime` running the action, when there is one.
    """

    deps: DepsT
    action: str = ""
    task_id: str | None = None
    emit: Callable[[str, str, Mapping[str, Any]], Awaitable[Any]] | None = None
    runtime: Any = None

    async def progress(self, type: str, message: str, **data: Any) -> None:
        """Emit a progress event if the host supplied a sink; otherwise do nothing."""
        if self.emit is not None:
            await self.emit(type, message, data)


@dataclass(frozen=True, slots=True)
class ActionAnnotations:
    """How careful a host should be with an action (the MCP tool annotations, and more).

    Attributes:
        read_only: It changes nothing anywhere.
        destructive: It may delete or close something that cannot be brought back.
        idempotent: Calling it twice with the same parameters has the effect of calling it once.
        spends_money: It may cost money (a deposit, a lease).
        requires_approval: A host that can ask a human first should do so.
    """

    read_only: bool = False
    destructive: bool = False
    idempotent: bool = False
    spends_money: bool = False
    requires_approval: bool = False

    def as_dict(self) -> dict[str, bool]:
        """The annotations as a plain dict."""
        return {
            "read_only": self.read_only,
            "destructive": self.destructive,
            "idempotent": self.idempotent,
            "spends_money": self.spends_money,
            "requires_approval": self.requires_approval,
        }


@dataclass(frozen=True, slots=True)
class Action:
    """A named, described, validated tool.

    Attributes:
        name: Unique name (letters, digits, ``_``/``-``; at most 64), e.g. ``DEPLOY_TO_AKASH``.
        description: What it does, for a person or a language model choosing a tool.
        handler: ``async (ctx, params) -> output``.
        parameters: The pydantic model its parameters are validated into.
        output: The type its output is validated as (``None``: any JSON-serialisable value).
        similes: Other phrasings of the same intent, for matching natural requests.
        examples: Example parameter sets, each valid against ``parameters``.
        annotations: How careful a host should be with it.
    """

    name: str
    description: str
    handler: Handler
    parameters: type[BaseModel]
    output: Any = None
    similes: tuple[str, ...] = ()
    examples: tuple[Mapping[str, Any], ...] = ()
    annotations: ActionAnnotations = field(default_factory=ActionAnnotations)

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ConfigurationError(
                f"action name {self.name!r} must start with a letter and use only letters, "
                "digits, '_' or '-', at most 64 characters"
            )
        if not self.description.strip():
            raise ConfigurationError(f"action {self.name!r} needs a description")
        if not inspect.iscoroutinefunction(self.handler):
            raise ConfigurationError(f"action {self.name!r}: the handler must be an async function")
        if not (isinstance(self.parameters, type) and issubclass(self.parameters, BaseModel)):
            raise ConfigurationError(f"action {self.name!r}: parameters must be a pydantic model")
        for index, example in enumerate(self.examples):
            try:
                self.parameters.model_validate(example)
            except pydantic.ValidationError as exc:
                raise ConfigurationError(
                    f"action {self.name!r}: example {index} does not validate: {exc}"
                ) from exc

    def validate_params(self, params: Mapping[str, Any] | BaseModel | None) -> BaseModel:
        """Validate raw parameters into the parameters model.

        Raises:
            ValidationError: naming each bad field and the reason.
        """
        if isinstance(params, self.parameters):
            return params
        raw = params.model_dump() if isinstance(params, BaseModel) else dict(params or {})
        try:
            return self.parameters.model_validate(raw)
        except pydantic.ValidationError as exc:
            raise ValidationError.from_pydantic(
                exc, subject=f"parameters for action {self.name}"
            ) from None

    def input_schema(self) -> dict[str, Any]:
        """The JSON Schema (draft 2020-12) of the parameters."""
        return self.parameters.model_json_schema()

    def output_schema(self) -> dict[str, Any]:
        """The JSON Schema of the output (an open object when no output type was declared)."""
        if self.output is None:
            return {"type": "object"}
        return TypeAdapter(self.output).json_schema(mode="serialization")

    def schema(self) -> dict[str, Any]:
        """Everything a host needs to offer this action as a tool (LLM tool API, MCP server)."""
        return {
            "name": self.name,
            "description": self.description,
            "similes": list(self.similes),
            "examples": [dict(e) for e in self.examples],
            "input_schema": self.input_schema(),
            "output_schema": self.output_schema(),
            "annotations": self.annotations.as_dict(),
        }

    def mcp_tool(self) -> dict[str, Any]:
        """This action as an MCP ``Tool`` object (see :func:`minds371.adapters.tools.tool_spec`)."""
        from minds371.adapters.tools import tool_spec

        return tool_spec(self).mcp_tool()


@overload
def action(function: Handler, /) -> Action: ...


@overload
def action(
    *,
    name: str | None = None,
    description: str | None = None,
    similes: Sequence[str] = (),
    examples: Sequence[Mapping[str, Any]] = (),
    read_only: bool = False,
    destructive: bool = False,
    idempotent: bool = False,
    spends_money: bool = False,
    requires_approval: bool = False,
) -> Callable[[Handler], Action]: ...


def action(
    function: Handler | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    similes: Sequence[str] = (),
    examples: Sequence[Mapping[str, Any]] = (),
    read_only: bool = False,
    destructive: bool = False,
    idempotent: bool = False,
    spends_money: bool = False,
    requires_approval: bool = False,
) -> Action | Callable[[Handler], Action]:
    """Turn an async handler ``(ctx, params: Model) -> Output`` into an :class:`Action`.

    The parameters model comes from the annotation of the handler's second argument, the output
    type from its return annotation, the name from the function's name and the description from
    its docstring, unless given here. Usable bare (``@action``) or with arguments.
    """

    def decorate(handler: Handler) -> Action:
        parameters, output = _signature_types(handler)
        return Action(
            name=name or handler.__name__,
            description=description or inspect.cleandoc(handler.__doc__ or ""),
            handler=handler,
            parameters=parameters,
            output=output,
            similes=tuple(similes),
            examples=tuple(examples),
            annotations=ActionAnnotations(
                read_only=read_only,
                destructive=destructive,
                idempotent=idempotent,
                spends_money=spends_money,
                requires_approval=requires_approval,
            ),
        )

    if function is not None:
        return decorate(function)
    return decorate


def _signature_types(handler: Handler) -> tuple[type[BaseModel], Any]:
    label = getattr(handler, "__qualname__", repr(handler))
    arguments = list(inspect.signature(handler).parameters)
    if len(arguments) != 2:
        raise ConfigurationError(f"action handler {label} must take (ctx, params)")
    try:
        hints = get_type_hints(handler)
    except (NameError, TypeError) as exc:
        raise ConfigurationError(f"action handler {label}: cannot resolve annotations") from exc
    parameters = hints.get(arguments[1])
    if not (isinstance(parameters, type) and issubclass(parameters, BaseModel)):
        raise ConfigurationError(
            f"action handler {label}: annotate the second argument with a pydantic model"
        )
    output = hints.get("return")
    return parameters, (None if output in (None, type(None), Any) else output)


class ActionRegistry:
    """Actions by name. Validates at registration and refuses duplicates."""

    def __init__(self) -> None:
        self._actions: dict[str, Action] = {}

    def register(self, item: Action) -> Action:
        """Add an action.

        Raises:
            DuplicateRegistration: if an action of that name is already registered.
            ConfigurationError: if ``item`` is not an :class:`Action`.
        """
        if not isinstance(item, Action):
            raise ConfigurationError(f"expected an Action, got {type(item).__name__}")
        if item.name in self._actions:
            raise DuplicateRegistration(f"an action named {item.name!r} is already registered")
        self._actions[item.name] = item
        return item

    def action(
        self,
        *,
        name: str | None = None,
        description: str | None = None,
        similes: Sequence[str] = (),
        examples: Sequence[Mapping[str, Any]] = (),
        read_only: bool = False,
        destructive: bool = False,
        idempotent: bool = False,
        spends_money: bool = False,
        requires_approval: bool = False,
    ) -> Callable[[Handler], Action]:
        """``@registry.action(...)``: :func:`action` with these options, then :meth:`register`."""
        make = action(
            name=name,
            description=description,
            similes=similes,
            examples=examples,
            read_only=read_only,
            destructive=destructive,
            idempotent=idempotent,
            spends_money=spends_money,
            requires_approval=requires_approval,
        )

        def decorate(handler: Handler) -> Action:
            return self.register(make(handler))

        return decorate

    def get(self, name: str) -> Action:
        """The action of that name.

        Raises:
            ActionNotFound: if none is registered (the message lists what is).
        """
        try:
            return self._actions[name]
        except KeyError:
            known = ", ".join(sorted(self._actions)) or "none"
            raise ActionNotFound(
                f"no action named {name!r}; registered actions: {known}",
                details={"name": name},
            ) from None

    def list(self) -> list[Action]:
        """All actions, sorted by name."""
        return [self._actions[n] for n in sorted(self._actions)]

    def __contains__(self, name: object) -> bool:
        return name in self._actions

    def __iter__(self) -> Iterator[Action]:
        return iter(self.list())

    def __len__(self) -> int:
        return len(self._actions)

    def schemas(self) -> builtins.list[dict[str, Any]]:
        """Every action's :meth:`Action.schema`, sorted by name."""
        return [a.schema() for a in self.list()]

    async def execute(
        self,
        name: str,
        params: Mapping[str, Any] | BaseModel | None = None,
        *,
        ctx: RunContext[Any] | None = None,
    ) -> Any:
        """Validate ``params``, run the action and return its output as JSON-ready data.

        Raises:
            ActionNotFound: no such action.
            ValidationError: the parameters (or the handler's output) do not validate.
            ActionError: the handler raised something outside the minds371 error tree.
            Minds371Error: whatever the handler raised from the tree, unchanged.
        """
        found = self.get(name)
        validated = found.validate_params(params)
        context = ctx if ctx is not None else RunContext(deps=None)
        context.action = name
        _log.debug("minds371.action.started", action=name, task_id=context.task_id)
        try:
            result = await found.handler(context, validated)
        except Minds371Error:
            raise
        except Exception as exc:
            _log.warning("minds371.action.failed", action=name, error=repr(exc))
            raise ActionError(
                f"action {name} failed: {type(exc).__name__}: {exc}",
                details={"action": name, "exception": type(exc).__name__},
            ) from exc
        return _dump_output(found, result)


def _dump_output(found: Action, result: Any) -> Any:
    adapter: TypeAdapter[Any] = TypeAdapter(found.output if found.output is not None else Any)
    try:
        return adapter.dump_python(adapter.validate_python(result), mode="json")
    except pydantic.ValidationError as exc:
        raise ValidationError.from_pydantic(exc, subject=f"output of action {found.name}") from None
    except PydanticSerializationError as exc:
        raise ActionError(f"action {found.name} returned a value that is not JSON-ready") from exc
