"""The sandbox is the network's twin, not part of the client: imports between them stay narrow."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _imports(package: Path) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in sorted(package.rglob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
            elif isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
        found[str(path.relative_to(ROOT))] = names
    return found


def test_the_client_imports_the_sandbox_only_to_start_the_embedded_one() -> None:
    users = {
        path
        for path, names in _imports(ROOT / "plugins/minds371_akash").items()
        if any(name.split(".")[0] == "minds371_sandbox" for name in names)
    }
    assert users == {"plugins/minds371_akash/networks.py"}


def test_the_sandbox_uses_only_the_sdl_engine_of_the_client() -> None:
    used = {
        name
        for names in _imports(ROOT / "plugins/minds371_sandbox").values()
        for name in names
        if name.split(".")[0] in {"minds371_akash", "minds371_deploy", "minds371_registry"}
    }
    assert used and all(name.startswith("minds371_akash.sdl") for name in used), used
