from __future__ import annotations

import pytest

import minds371
from tests.exports import assert_complete_all

PUBLIC_MODULES = [
    "minds371",
    "minds371.actions",
    "minds371.agent",
    "minds371.bus",
    "minds371.errors",
    "minds371.lifecycle",
    "minds371.logging",
    "minds371.plugins",
    "minds371.runtime",
    "minds371.state",
    "minds371.tasks",
]


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_every_public_module_declares_a_complete_all(name: str) -> None:
    assert_complete_all(name)


def test_the_documented_python_api_imports() -> None:
    for name in ("AgentRuntime", "Task", "TaskStatus", "AgentType", "ActionRegistry", "action"):
        assert name in minds371.__all__
    assert minds371.__version__
