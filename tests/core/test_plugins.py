from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points
from typing import Any

import pytest

from minds371 import AgentRuntime, MemoryStateStore, Plugin
from minds371.errors import ConfigurationError
from minds371.plugins import discover_plugins

weather = Plugin(name="weather")
not_a_plugin = object()


def fake_entry_points(*points: EntryPoint) -> Any:
    def select(group: str) -> list[EntryPoint]:
        return [*entry_points(group=group), *points] if group == "minds371.plugins" else []

    return select


def test_discovery_finds_the_built_in_plugins_through_the_entry_point_group() -> None:
    names = [p.name for p in discover_plugins()]
    assert names == ["akash", "deploy", "registry", "sandbox"]


def test_third_party_plugins_load_only_when_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    point = EntryPoint(name="weather", value=f"{__name__}:weather", group="minds371.plugins")
    monkeypatch.setattr("minds371.plugins.entry_points", fake_entry_points(point))
    assert "weather" not in [p.name for p in discover_plugins()]
    assert "weather" in [p.name for p in discover_plugins(third_party=True)]


def test_an_entry_point_that_is_not_a_plugin_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    point = EntryPoint(name="bad", value=f"{__name__}:not_a_plugin", group="minds371.plugins")
    monkeypatch.setattr("minds371.plugins.entry_points", fake_entry_points(point))
    with pytest.raises(ConfigurationError, match="not a minds371 Plugin"):
        discover_plugins(third_party=True)


async def test_a_runtime_registers_what_its_plugins_contribute() -> None:
    started: list[str] = []

    class Agent:
        agent_type = "weather"

        async def process_task(self, task: Any) -> dict[str, Any]:
            return {}

    async def startup(runtime: AgentRuntime) -> None:
        started.append("weather")

    plugin = Plugin(name="weather", agents=lambda runtime: [Agent()], startup=startup)
    runtime = AgentRuntime(store=MemoryStateStore(), load_plugins=False, plugins=[plugin])
    assert runtime.agent_types == ["weather"]
    async with runtime:
        assert started == ["weather"]
