"""The bounded subprocess: argv only, a deadline that kills the whole process group, output
captured and redacted line by line."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from minds371.logging import redact, register_secret
from minds371_deploy.building.runner import run_bounded

ENV = {"PATH": "/usr/bin:/bin"}


def _alive(marker: str) -> bool:
    for pid in os.listdir("/proc"):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes() if pid.isdigit() else b""
        except OSError:
            continue
        if marker.encode() in cmdline.split(b"\0"):
            return True
    return False


async def test_a_command_past_its_deadline_is_killed_with_everything_it_started(
    tmp_path: Path,
) -> None:
    marker = f"765{os.getpid()}"  # unique to this process: another may run the suite too
    script = f"sleep {marker} & echo started; sleep {marker}"
    result = await run_bounded(["sh", "-c", script], cwd=tmp_path, env=ENV, time_limit=0.5)
    assert result.stopped == "timed out after 0.5 s"
    assert not result.ok
    assert "started" in result.output
    assert not _alive(marker)  # the background child went with the group


async def test_output_lines_are_redacted_before_anyone_sees_them(tmp_path: Path) -> None:
    register_secret("hunter2-registry-pass")
    lines: list[str] = []

    async def keep(line: str) -> None:
        lines.append(line)

    result = await run_bounded(
        ["sh", "-c", "echo one; echo pw=hunter2-registry-pass; echo three >&2; exit 3"],
        cwd=tmp_path,
        env=ENV,
        time_limit=10,
        on_line=keep,
    )
    assert result.returncode == 3 and result.stopped is None
    assert lines == ["one", "pw=***", "three"]
    assert "hunter2" not in result.output


async def test_a_watchdog_verdict_stops_the_command_with_its_reason(tmp_path: Path) -> None:
    result = await run_bounded(
        ["sleep", "30"],
        cwd=tmp_path,
        env=ENV,
        time_limit=30,
        watchdog=lambda: "grew past 1 MiB",
        watch_every=0.05,
    )
    assert result.stopped == "grew past 1 MiB"


async def test_the_command_gets_only_the_environment_it_is_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MINDS371_TEST_LEAK", "agent-only")
    result = await run_bounded(["env"], cwd=tmp_path, env=ENV, time_limit=10)
    assert "MINDS371_TEST_LEAK" not in result.output
    assert result.output.strip() == "PATH=/usr/bin:/bin"


def test_an_image_digest_is_public_and_a_bare_hex_key_is_not() -> None:
    digest = "sha256:" + "ab" * 32
    assert redact(f"127.0.0.1:5000/app@{digest}") == f"127.0.0.1:5000/app@{digest}"
    assert redact("key " + "ab" * 32) == "key ***"
