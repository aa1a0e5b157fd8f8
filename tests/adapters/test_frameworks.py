"""LangChain and pydantic-ai call our actions through their own tool-calling paths (a fake chat
model's tool call; an Agent on a function model), with the same schemas and secret rule."""

from __future__ import annotations

import json
from typing import Any, cast

from langchain_core.callbacks import AsyncCallbackHandler
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, ToolMessage
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic_ai import Agent, DeferredToolRequests
from pydantic_ai.messages import (
    ModelMessage,
    ModelResponse,
    RetryPromptPart,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
)
from pydantic_ai.models.function import AgentInfo, FunctionModel

from minds371.adapters.langchain import PROGRESS_EVENT, langchain_tools
from minds371.adapters.pydantic_ai import minds371_toolset
from minds371.adapters.tools import tool_specs
from minds371.runtime import AgentRuntime
from tests.adapters.actions import SPENT, registry

SECRET_CALL = {"image": "a", "login": {"host": "h", "password": "hunter2"}}


async def _langchain_round(calls: list[dict[str, Any]]) -> list[ToolMessage]:
    """A fake chat model answers with ``calls``; each runs through its tool's ``ainvoke``."""
    tools = {tool.name: tool for tool in langchain_tools(registry())}
    model = GenericFakeChatModel(messages=iter([AIMessage(content="", tool_calls=calls)]))
    answer = await model.ainvoke("what does 3 cost?")
    assert isinstance(answer, AIMessage)
    replies = []
    for call in answer.tool_calls:
        reply = await tools[call["name"]].ainvoke(call)
        assert isinstance(reply, ToolMessage)
        replies.append(reply)
    return replies


class Progress(AsyncCallbackHandler):
    """A LangChain callback handler that keeps the custom events it sees."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    async def on_custom_event(self, name: str, data: Any, **kwargs: Any) -> None:
        self.events.append((name, data))


async def test_a_langchain_tool_call_runs_the_action() -> None:
    (reply,) = await _langchain_round([{"name": "QUOTE", "args": {"amount": 3}, "id": "c1"}])
    assert reply.tool_call_id == "c1" and reply.status == "success"
    assert json.loads(str(reply.content)) == {"amount": 3, "usd": 6}


async def test_langchain_callbacks_hear_the_actions_progress() -> None:
    tools = {tool.name: tool for tool in langchain_tools(registry())}
    heard = Progress()
    call = {"name": "QUOTE", "args": {"amount": 2}, "id": "c3", "type": "tool_call"}
    await tools["QUOTE"].ainvoke(call, config={"callbacks": [heard]})
    assert heard.events == [
        (PROGRESS_EVENT, {"tool": "QUOTE", "type": "quote.priced", "message": "priced 2"})
    ]


async def test_langchain_gets_the_schemas_annotations_and_secret_rule() -> None:
    tools = {tool.name: tool for tool in langchain_tools(registry())}
    pay, pull = tools["PAY"], tools["PULL"]
    assert pay.metadata is not None and pay.metadata["spends_money"] is True
    assert pay.metadata["readOnlyHint"] is False and "spends_money" in (pay.tags or [])
    assert "spends money" in pay.description
    # What a chat model's bind_tools sends for it:
    offered = convert_to_openai_tool(pull)["function"]["parameters"]
    assert "login" not in offered["properties"] and offered["required"] == ["image"]
    (refused,) = await _langchain_round([{"name": "PULL", "args": SECRET_CALL, "id": "c2"}])
    assert refused.status == "error" and "/login: refused: secrets" in str(refused.content)
    assert "hunter2" not in str(refused.content)


def test_langchain_tools_of_the_deploy_actions_leave_credentials_out() -> None:
    runtime = AgentRuntime()
    tools = {tool.name: tool for tool in langchain_tools(runtime)}
    specs = {spec.name: spec for spec in tool_specs(runtime)}
    assert set(tools) == set(specs) and "DEPLOY_TO_AKASH" in tools
    assert tools["DEPLOY_TO_AKASH"].args_schema == specs["DEPLOY_TO_AKASH"].input_schema
    assert '"credentials"' not in json.dumps(tools["DEPLOY_TO_AKASH"].args_schema)


def _calls_then_answers(*parts: ToolCallPart) -> FunctionModel:
    """A model that calls ``parts`` first, then repeats what the tools returned."""

    def respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        returned = [
            p
            for m in messages
            for p in getattr(m, "parts", [])
            if isinstance(p, (ToolReturnPart, RetryPromptPart))
        ]
        if not returned:
            return ModelResponse(parts=list(parts))
        return ModelResponse(parts=[TextPart(json.dumps([p.content for p in returned]))])

    return FunctionModel(respond)


async def test_a_pydantic_ai_agent_calls_the_action() -> None:
    model = _calls_then_answers(ToolCallPart("QUOTE", {"amount": 4}, tool_call_id="q1"))
    seen: dict[str, Any] = {}

    def capture(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        seen.update({t.name: t for t in info.function_tools})
        return cast(ModelResponse, model.function(messages, info))  # type: ignore[misc]

    heard: list[str] = []

    async def on_progress(type: str, message: str, data: Any) -> None:
        heard.append(f"{type}: {message}")

    toolset = minds371_toolset(registry(), on_progress=on_progress)
    agent = Agent(FunctionModel(capture), toolsets=[toolset])
    result = await agent.run("what does 4 cost?")
    assert json.loads(result.output) == [{"amount": 4, "usd": 8}]
    assert heard == ["quote.priced: priced 4"]
    assert "login" not in seen["PULL"].parameters_json_schema["properties"]
    assert seen["PAY"].metadata["spends_money"] is True
    assert seen["QUOTE"].metadata["readOnlyHint"] is True


async def test_pydantic_ai_refuses_secrets_and_defers_what_needs_approval() -> None:
    SPENT.clear()
    refused = Agent(
        _calls_then_answers(ToolCallPart("PULL", SECRET_CALL, tool_call_id="p1")),
        toolsets=[minds371_toolset(registry())],
    )
    result = await refused.run("pull it")
    assert "/login: refused: secrets" in result.output and "hunter2" not in result.output
    paying = Agent(
        _calls_then_answers(ToolCallPart("PAY", {"amount": 5}, tool_call_id="m1")),
        toolsets=[minds371_toolset(registry())],
        output_type=[str, DeferredToolRequests],
    )
    deferred = await paying.run("pay 5")
    assert isinstance(deferred.output, DeferredToolRequests)
    assert [c.tool_name for c in deferred.output.approvals] == ["PAY"] and SPENT == []
