from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def quickstart_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = text.split("## Quickstart", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    return [line for line in block.strip().splitlines() if line.strip()]


def test_the_quickstart_is_two_commands_and_the_second_is_the_test_command() -> None:
    commands = quickstart_commands()
    assert len(commands) == 2
    assert commands[1] == "bash scripts/test.sh"
    ci = (ROOT / ".ci/run").read_text()
    assert "bash scripts/test.sh" in ci


def test_the_quickstart_deploy_prints_a_ready_endpoint_and_a_cost_report(
    clean_environ: Path,
) -> None:
    first = quickstart_commands()[0]
    deploy = first.split("&&")[-1].strip()  # the install part already ran for this suite
    assert deploy.startswith(".venv/bin/minds371 deploy examples/web/request.yaml")
    minds371 = ROOT / ".venv/bin/minds371"
    command = (
        deploy.replace(".venv/bin/minds371", str(minds371))
        if minds371.exists()
        else (deploy.replace(".venv/bin/minds371", "minds371"))
    )
    env = {k: v for k, v in os.environ.items() if k != "MINDS371_SANDBOX_URL"}
    env["MINDS371_HOME"] = str(clean_environ)
    done = subprocess.run(
        command,
        shell=True,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert re.search(r"endpoint\s+http://\S+", done.stderr)
    assert re.search(r"cost\s+\d+(\.\d+)? USD/month", done.stderr)
    assert "ready at http://" in done.stdout
