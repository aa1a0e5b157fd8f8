"""The check every public module's ``__all__`` must pass (shared by the packages' export tests)."""

from __future__ import annotations

import importlib


def assert_complete_all(name: str) -> None:
    """``name.__all__`` lists only what exists, and every public function and class it defines."""
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
