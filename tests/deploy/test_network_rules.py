"""Validation follows the network the SDL goes to: Console's rules there, Go's on the CLI.

Refused SDLs exit with code 2 and a named error before anything is created or spent.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.deploy.conftest import Sandbox, write_request

WEB = (Path(__file__).parents[1] / "fixtures" / "market" / "web.yaml").read_text()


@pytest.mark.parametrize(
    ("network", "sdl", "named"),
    [
        # chain-sdk's schema wants sizes as strings; Go's engine refuses them too.
        ("sandbox", WEB.replace("size: 1Gi", "size: 1073741824"), "SDL (Console rules)"),
        # Go reads 16GB as no size at all; Console would take it.
        ("cli", WEB.replace("512Mi", "16GB"), "invalid SDL"),
    ],
)
def test_an_sdl_the_network_refuses_exits_2_before_any_spend(
    cli: Any, sandbox: Sandbox, tmp_path: Path, network: str, sdl: str, named: str
) -> None:
    before = sandbox.all_dseqs()
    request = write_request(tmp_path, {"name": "refused", "sdl": sdl, "network": network})
    run = cli(
        "deploy",
        str(request),
        extra_env={"MINDS371_CONSOLE_API_KEY": "rules-test", "MINDS371_CONSOLE_URL": sandbox.url},
    )
    assert run.code == 2, (run.out, run.err)
    assert named in run.err + run.out
    assert sandbox.all_dseqs() == before
