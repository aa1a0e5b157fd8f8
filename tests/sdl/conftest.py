from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "sdl"
GO = FIXTURES / "go"


def go_valid_cases() -> list[str]:
    return sorted(
        f"{path.parent.parent.name}/{path.parent.name}"
        for path in (GO / "input").glob("v2.*/*/input.yaml")
    )


def go_invalid_files() -> list[Path]:
    return sorted((GO / "input" / "invalid").glob("*.yaml")) + sorted(
        (GO / "input" / "schema-only-invalid").glob("*.yaml")
    )
