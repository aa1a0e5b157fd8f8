"""The command line's contract with people and with programs: one JSON document with --json
(failures included), global flags anywhere, a quiet Ctrl-C, errors in words, a silent library."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import structlog

from minds371.cli import main
from minds371.config import home_for
from minds371.errors import FieldIssue, ValidationError
from minds371.logging import get_logger

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "argv",
    [
        ["no-such-command", "--json"],
        ["status", "not-a-number", "--json"],
        ["status", "--json"],
        ["deploy", "/no/such/request.yaml", "--json"],
        ["list", "--json", "--log-level", "LOUD"],
    ],
    ids=["unknown-command", "bad-dseq", "missing-argument", "missing-file", "bad-log-level"],
)
def test_json_failures_are_one_json_document_on_stdout(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    out, err = capsys.readouterr()
    document = json.loads(out)  # exactly one document: json.loads refuses trailing text
    assert document["status"] == "invalid"
    assert document["exit_code"] == 2
    assert document["error"]["message"]
    assert err.strip(), "people still get the reason on stderr"
    assert "Traceback" not in err


def test_a_held_state_is_one_json_document_too(
    clean_environ: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import fcntl

    clean_environ.mkdir(parents=True, exist_ok=True)
    with (clean_environ / "state.db.lock").open("a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as a running runtime holds it
        assert main(["watch", "--once", "--json"]) == 2
    out, err = capsys.readouterr()
    document = json.loads(out)
    assert document["error"]["type"] == "ConfigurationError"
    assert "another minds371 runtime holds" in document["error"]["message"]
    assert "another minds371 runtime holds" in err


def test_log_level_is_taken_before_and_after_the_command(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["actions", "--json", "--log-level", "debug"]) == 0
    json.loads(capsys.readouterr().out)
    assert main(["--log-level=INFO", "actions", "--json"]) == 0
    json.loads(capsys.readouterr().out)


def test_a_regex_is_said_in_words() -> None:
    from minds371_deploy.request import parse_request

    with pytest.raises(ValidationError) as info:
        parse_request(
            {"name": "web", "infra_spec": {"services": [{"name": "Web", "image": "nginx:1.27"}]}}
        )
    (issue,) = [i for i in info.value.issues if i.path == "/infra_spec/services/0/name"]
    assert issue == FieldIssue(
        "/infra_spec/services/0/name",
        "must be lower-case letters, digits and '-', starting with a letter and not ending "
        "with '-' (e.g. web, api-2)",
    )
    assert "pattern" not in str(info.value) and "^[a-z]" not in str(info.value)


def test_the_library_writes_nothing_until_its_host_configures_logging(
    capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    structlog.reset_defaults()
    root = logging.getLogger()
    saved = root.handlers[:]
    root.handlers = []
    try:
        # pytest's own capture handler is on the root logger: take it off to be a bare host.
        caplog.handler.setLevel(logging.CRITICAL + 1)
        get_logger("minds371.test").warning("minds371.test.quiet", detail="nobody asked")
        get_logger("minds371.test").info("minds371.test.quiet", detail="nobody asked")
    finally:
        root.handlers = saved
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_a_host_with_standard_logging_gets_the_events_there(
    caplog: pytest.LogCaptureFixture,
) -> None:
    structlog.reset_defaults()
    with caplog.at_level(logging.INFO, logger="minds371.test"):
        get_logger("minds371.test").info("minds371.test.heard", api_key="sk-hidden-123456")
    (record,) = [r for r in caplog.records if r.name == "minds371.test"]
    assert "minds371.test.heard" in record.getMessage()
    assert "sk-hidden-123456" not in record.getMessage()


def test_a_served_sandbox_has_a_state_directory_of_its_own(tmp_path: Path) -> None:
    assert home_for(tmp_path) == tmp_path
    served = home_for(tmp_path, "http://127.0.0.1:8080")
    assert served == tmp_path / "served" / "127.0.0.1-8080"
    assert home_for(tmp_path, "http://127.0.0.1:8081") != served


def test_ctrl_c_while_starting_is_one_line_and_exit_130(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MINDS371_")}
    env["MINDS371_HOME"] = str(tmp_path / "home")
    process = subprocess.Popen(
        [sys.executable, "-m", "minds371", "deploy", str(ROOT / "examples/web/request.yaml")],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(0.15)  # our modules are loading; Python itself has started
    process.send_signal(signal.SIGINT)
    _out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert err.strip().splitlines()[-1] == "minds371: cancelled"
    assert "Traceback" not in err


def test_a_defect_is_one_line_and_one_document_not_a_traceback(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import argparse

    from minds371.cli import _guarded

    def broken(args: argparse.Namespace) -> int:
        raise RuntimeError("boom")

    async def grouped(args: argparse.Namespace) -> int:
        import anyio

        async def fail() -> None:
            raise ValidationError([FieldIssue("/x", "bad")], subject="thing")

        async with anyio.create_task_group() as group:
            group.start_soon(fail)
        return 0

    assert _guarded(broken, argparse.Namespace(), as_json=True) == 1
    out, err = capsys.readouterr()
    assert json.loads(out)["error"]["type"] == "InternalError"
    assert err.count("\n") == 1 and "unexpected RuntimeError: boom" in err
    # A failure wrapped by a task group is reported as itself (bad input: exit 2).
    assert _guarded(grouped, argparse.Namespace(), as_json=True) == 2
    assert json.loads(capsys.readouterr().out)["error"]["issues"] == [
        {"path": "/x", "message": "bad"}
    ]


def test_a_whole_document_problem_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["deploy", "/no/such/request.yaml"]) == 2
    err = capsys.readouterr().err
    assert err == "minds371: invalid deployment request: /no/such/request.yaml does not exist\n"
