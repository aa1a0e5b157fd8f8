from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def sh_options() -> set[str]:
    text = (ROOT / "scripts/deploy-akash.sh").read_text()
    return {m.group(1) for m in re.finditer(r"^\s+--([a-z-]+)\)", text, re.MULTILINE)}


def ps1_parameters() -> set[str]:
    text = (ROOT / "scripts/deploy-akash.ps1").read_text()
    block = text[text.index("param(") : text.index("\n)\n")] + "\n"
    names = re.findall(r"\$([A-Za-z]+)\s*(?:=|,|\n)", block)
    # PowerShell CamelCase ↔ shell kebab-case: MaxPrice ↔ max-price.
    return {re.sub(r"(?<!^)([A-Z])", r"-\1", n).lower() for n in names}


def test_the_shell_and_powershell_wrappers_expose_the_same_parameters() -> None:
    expected = {
        "name",
        "image",
        "cpu",
        "memory",
        "storage",
        "port",
        "env",
        "network",
        "max-price",
        "json",
    }
    assert sh_options() == expected
    assert ps1_parameters() == expected


def test_the_shell_wrapper_refuses_a_missing_image() -> None:
    import subprocess

    done = subprocess.run(
        ["bash", str(ROOT / "scripts/deploy-akash.sh")],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert done.returncode == 2
    assert "--image is required" in done.stderr
