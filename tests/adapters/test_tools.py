"""The shared tool description: schemas, hints, notes and the secret rule, for every adapter."""

from __future__ import annotations

import json

import jsonschema
import pytest

from minds371.adapters.tools import (
    SecretArgumentError,
    call_action,
    secret_arguments,
    tool_spec,
    tool_specs,
)
from minds371.runtime import AgentRuntime
from tests.adapters.actions import registry


def test_annotations_map_to_mcp_hints_and_notes() -> None:
    specs = {s.name: s for s in tool_specs(registry())}
    quote, pay, pull = specs["QUOTE"], specs["PAY"], specs["PULL"]
    assert quote.hints.mcp() == {
        "readOnlyHint": True,
        "destructiveHint": False,
        "idempotentHint": True,
        "openWorldHint": True,
    }
    assert pull.hints.destructive and not pull.hints.read_only
    assert pay.meta() == {"minds371/spends_money": True, "minds371/requires_approval": True}
    assert "spends money" in pay.description and quote.note == ""
    assert pay.mcp_tool()["annotations"]["readOnlyHint"] is False
    for spec in specs.values():
        jsonschema.Draft202012Validator.check_schema(spec.input_schema)
        assert spec.output_schema["type"] == "object"


def test_secret_bearing_fields_are_left_out_of_the_schema() -> None:
    pull = tool_spec(registry().get("PULL"))
    assert "login" not in pull.input_schema["properties"]
    assert "Login" not in pull.input_schema.get("$defs", {})
    assert "/properties/login" in pull.secret_fields
    assert "configuration, never from tool arguments" in pull.description


def test_the_deploy_actions_registry_credentials_are_secret_bearing() -> None:
    runtime = AgentRuntime()
    specs = {s.name: s for s in tool_specs(runtime)}
    for spec in specs.values():
        jsonschema.Draft202012Validator.check_schema(spec.input_schema)
    for name in ("DEPLOY_TO_AKASH", "ESTIMATE_COST"):
        text = json.dumps(specs[name].input_schema)
        assert "RegistryCredentials" not in text and '"credentials"' not in text, name
        assert '"password"' not in text
    request = {
        "name": "web",
        "infra_spec": {
            "services": [
                {
                    "name": "web",
                    "image": "ghcr.io/acme/web:1",
                    "credentials": {"host": "ghcr.io", "username": "u", "password": "hunter2"},
                }
            ]
        },
    }
    deploy = specs["DEPLOY_TO_AKASH"]
    assert secret_arguments(deploy, request) == ["/infra_spec/services/0/credentials"]
    estimate = specs["ESTIMATE_COST"]
    assert secret_arguments(estimate, {"request": request}) == [
        "/request/infra_spec/services/0/credentials"
    ]
    assert secret_arguments(deploy, {"name": "web", "image": "nginx:1.27"}) == []
    sdl = (
        'version: "2.0"\nservices:\n  web:\n    image: ghcr.io/acme/web:1\n'
        "    credentials:\n      host: ghcr.io\n      username: u\n      password: hunter2\n"
    )
    assert secret_arguments(deploy, {"name": "web", "sdl": sdl}) == [
        "/sdl/services/web/credentials"
    ]
    assert secret_arguments(estimate, {"request": {"name": "web", "sdl": sdl}}) == [
        "/request/sdl/services/web/credentials"
    ]
    assert secret_arguments(deploy, {"name": "web", "sdl": "not: [valid"}) == []
    tokened = {"name": "web", "repo_url": "https://me:ghp_abc123@github.com/acme/web.git"}
    assert secret_arguments(deploy, tokened) == ["/repo_url"]
    for plain in ("https://github.com/acme/web.git", "git@github.com:acme/web.git"):
        assert secret_arguments(deploy, {"name": "web", "repo_url": plain}) == []


async def test_a_call_carrying_a_secret_is_refused_before_it_runs() -> None:
    found = registry()
    pull = tool_spec(found.get("PULL"))
    arguments = {"image": "a", "login": {"host": "h", "password": "hunter2"}}
    with pytest.raises(SecretArgumentError) as caught:
        await call_action(found, pull, arguments)
    assert [i.path for i in caught.value.issues] == ["/login"]
    assert "hunter2" not in str(caught.value)
    assert await call_action(found, pull, {"image": "a"}) == {"image": "a", "logged_in": False}


async def test_progress_reaches_the_sink() -> None:
    found = registry()
    seen: list[str] = []

    async def emit(type: str, message: str, data: object) -> None:
        seen.append(f"{type}: {message}")

    output = await call_action(found, tool_spec(found.get("QUOTE")), {"amount": 3}, emit=emit)
    assert output == {"amount": 3, "usd": 6} and seen == ["quote.priced: priced 3"]
