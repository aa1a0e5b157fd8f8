from __future__ import annotations

import json
import subprocess
import sys

import pytest

from minds371.cli import main


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("minds371 ")


def test_actions_json_prints_one_json_document(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["actions", "--json"]) == 0
    schemas = json.loads(capsys.readouterr().out)
    assert isinstance(schemas, list)
    for schema in schemas:
        assert {"name", "description", "input_schema", "output_schema", "annotations"} <= set(
            schema
        )


def test_bad_usage_exits_2_without_a_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["no-such-command"]) == 2
    err = capsys.readouterr().err
    assert "invalid choice" in err
    assert "Traceback" not in err


def test_console_script_runs_as_a_process() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "minds371.cli", "actions", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    json.loads(done.stdout)
