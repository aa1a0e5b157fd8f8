"""The MCP server in-process (the SDK's own in-memory client): confirmation before spending, the
secret rule, errors as tool errors, and the HTTP transport's guards."""

from __future__ import annotations

from typing import Any

import anyio
import httpx
import mcp_types as types
import pytest
from mcp.client.client import Client
from mcp.client.session import ClientRequestContext, ClientSession
from mcp.shared.exceptions import MCPError
from mcp.shared.memory import create_client_server_memory_streams

from minds371.adapters.mcp._cli import is_loopback
from minds371.adapters.mcp._serve import BearerAuth
from minds371.adapters.mcp.server import ConfirmSpend, build_server
from minds371.adapters.resources import ResourceEntry, ResourceTemplate
from minds371.cli import main
from minds371.errors import FieldIssue, ValidationError
from tests.adapters.actions import SPENT, registry


class User:
    """The person behind the client: answers each confirmation with ``answer``."""

    def __init__(self, answer: str = "accept", confirm: bool = True) -> None:
        self.answer, self.confirm = answer, confirm
        self.asked: list[str] = []

    async def __call__(
        self, context: ClientRequestContext, params: types.ElicitRequestParams
    ) -> types.ElicitResult:
        self.asked.append(params.message)
        content = {"confirm": self.confirm} if self.answer == "accept" else None
        return types.ElicitResult(action=self.answer, content=content)


def _text(result: types.CallToolResult) -> str:
    return "".join(c.text for c in result.content if isinstance(c, types.TextContent))


async def _pay(mode: ConfirmSpend, user: User | None) -> types.CallToolResult:
    server = build_server(registry(), confirm_spend=mode)  # type: ignore[arg-type]
    async with Client(server, elicitation_callback=user) as client:
        return await client.call_tool("PAY", {"amount": 7})


async def test_a_spending_tool_runs_after_the_user_says_yes() -> None:
    SPENT.clear()
    user = User()
    result = await _pay(ConfirmSpend.ELICIT, user)
    assert not result.is_error and result.structured_content == {"paid": 7}
    assert SPENT == [7] and len(user.asked) == 1 and '"amount": 7' in user.asked[0]


@pytest.mark.parametrize(
    ("answer", "confirm"), [("decline", False), ("cancel", False), ("accept", False)]
)
async def test_without_a_yes_nothing_is_spent(answer: str, confirm: bool) -> None:
    SPENT.clear()
    result = await _pay(ConfirmSpend.ELICIT, User(answer, confirm))
    assert result.is_error and "did not confirm PAY" in _text(result)
    assert SPENT == []


async def test_the_question_does_not_show_key_like_values() -> None:
    user = User(answer="decline")
    server = build_server(registry())  # type: ignore[arg-type]
    async with Client(server, elicitation_callback=user) as client:
        memo = {"api_key": "sk-live-abcdef123456"}
        await client.call_tool("PAY", {"amount": 7, "memo": memo})
    assert "sk-live-abcdef123456" not in user.asked[0] and "***" in user.asked[0]


async def test_a_client_that_cannot_confirm_is_refused_by_default() -> None:
    SPENT.clear()
    result = await _pay(ConfirmSpend.ELICIT, None)
    assert result.is_error and "--confirm-spend never" in _text(result)
    assert SPENT == []


async def test_a_client_whose_confirmation_fails_is_refused() -> None:
    SPENT.clear()

    async def broken(
        context: ClientRequestContext, params: types.ElicitRequestParams
    ) -> types.ErrorData:
        return types.ErrorData(code=types.INTERNAL_ERROR, message="no screen to ask on")

    server = build_server(registry())  # type: ignore[arg-type]
    async with (
        create_client_server_memory_streams() as (client, served),
        anyio.create_task_group() as group,
    ):
        group.start_soon(server.run, *served, server.create_initialization_options())
        async with ClientSession(*client, elicitation_callback=broken) as session:
            await session.initialize()  # the handshake era: the question goes back-channel
            result = await session.call_tool("PAY", {"amount": 7})
        group.cancel_scope.cancel()
    assert result.is_error and "could not ask" in _text(result) and SPENT == []


async def test_confirm_spend_never_and_refuse() -> None:
    SPENT.clear()
    assert not (await _pay(ConfirmSpend.NEVER, None)).is_error
    user = User()
    refused = await _pay(ConfirmSpend.REFUSE, user)
    assert refused.is_error and "--confirm-spend refuse" in _text(refused)
    assert SPENT == [7] and user.asked == []


async def test_a_secret_argument_is_refused_before_any_confirmation() -> None:
    user = User()
    server = build_server(registry())  # type: ignore[arg-type]
    async with Client(server, elicitation_callback=user) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert "login" not in tools["PULL"].input_schema["properties"]
        result = await client.call_tool(
            "PULL", {"image": "a", "login": {"host": "h", "password": "hunter2"}}
        )
    assert result.is_error and "/login: refused: secrets" in _text(result)
    assert "hunter2" not in _text(result) and user.asked == []


async def test_bad_arguments_and_unknown_tools_are_tool_errors_naming_the_field() -> None:
    user = User()
    server = build_server(registry())  # type: ignore[arg-type]
    async with Client(server, elicitation_callback=user) as client:
        bad = await client.call_tool("QUOTE", {"amount": 0})
        unknown = await client.call_tool("NOPE", {})
        unpayable = await client.call_tool("PAY", {"amount": 0})
    assert bad.is_error and "/amount:" in _text(bad)
    assert unpayable.is_error and "/amount:" in _text(unpayable) and user.asked == []
    assert unknown.is_error and "no tool named 'NOPE'" in _text(unknown)


async def test_resources_come_from_the_templates_the_plugins_give() -> None:
    async def read(variables: Any) -> dict[str, str]:
        if variables["key"] != "one":
            raise ValidationError([FieldIssue("/key", "unknown")], subject="thing")
        return {"key": variables["key"]}

    async def listing() -> list[ResourceEntry]:
        return [ResourceEntry("test://things/one", "one")]

    template = ResourceTemplate("test://things/{key}", "thing", "a thing", read, listing)
    server = build_server(registry(), resources=[template])  # type: ignore[arg-type]
    async with Client(server) as client:
        assert [str(r.uri) for r in (await client.list_resources()).resources] == [
            "test://things/one"
        ]
        found = await client.read_resource("test://things/one")
        assert isinstance(found.contents[0], types.TextResourceContents)
        assert found.contents[0].text == '{"key": "one"}'
        with pytest.raises(MCPError, match="unknown"):
            await client.read_resource("test://things/two")


async def test_the_http_transport_needs_the_bearer_token_when_one_is_set() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    guarded = BearerAuth(app, "s3cret-token")
    transport = httpx.ASGITransport(app=guarded)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        assert (await client.post("/mcp")).status_code == 401
        wrong = {"authorization": "Bearer nope"}
        assert (await client.post("/mcp", headers=wrong)).status_code == 401
        right = {"authorization": "Bearer s3cret-token"}
        assert (await client.post("/mcp", headers=right)).text == "ok"


def test_a_non_loopback_address_without_a_token_is_refused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["mcp", "--http", "--host", "0.0.0.0"]) == 2
    assert "MINDS371_MCP_TOKEN" in capsys.readouterr().err
    assert main(["mcp", "--host", "0.0.0.0"]) == 2  # an address for stdio
    assert "apply to --http only" in capsys.readouterr().err
    assert main(["mcp", "--http", "--port", "70000"]) == 2
    assert "--port must be 0-65535" in capsys.readouterr().err
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("example.test")
