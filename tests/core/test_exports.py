from __future__ import annotations

import importlib

import pytest

import minds371

PUBLIC_MODULES = [
    "minds371",
    "minds371.actions",
    "minds371.agent",
    "minds371.bus",
    "minds371.errors",
    "minds371.logging",
    "minds371.plugins",
    "minds371.runtime",
    "minds371.state",
    "minds371.tasks",
]


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_every_public_module_declares_a_complete_all(name: str) -> None:
    module = importlib.import_module(name)
    declared = set(module.__all__)
    for exported in declared:
        assert hasattr(module, exported), f"{name}.__all__ names missing {exported}"
    public = {
        attr
        for attr, value in vars(module).items()
        if not attr.startswith("_")
        and getattr(value, "__module__", name) == name
        and (callable(value) or isinstance(value, type))
    }
    assert public <= declared, f"{name} defines public names missing from __all__"


def test_the_documented_python_api_imports() -> None:
    for name in ("AgentRuntime", "Task", "TaskStatus", "AgentType", "ActionRegistry", "action"):
        assert name in minds371.__all__
    assert minds371.__version__
