"""Every ``sh`` and ``python`` block of README.md and docs/ runs as written (or says why not).

The shell blocks run in a pseudo-terminal, one command at a time under a deadline, the way a
reader types them, and what a reader would look for in the answer is checked; the Python blocks
run as scripts. All on the embedded sandbox, with a fresh ``MINDS371_HOME``.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest

from tests.docs.snippets import Snippet, reader_env, snippets, workspace

COMMAND_DEADLINE = 90.0  # seconds; each command takes a few
PROMPT = "READER-PROMPT> "
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")

#: What a reader looks for in the answer to a command (by a pattern of the command).
EXPECTED = [
    (r"minds371 deploy examples/web/request\.yaml$", r"ready deployment \d+ \(sandbox\)"),
    (r"minds371 status ", r"1/1 services ready"),
    (r"minds371 logs ", r"\[web\] starting nginx"),
    (r"minds371 discover hello-web", r"(?m)^up\s+http://"),
    (r"minds371 deploy /tmp/hello-web-2\.yaml", r"updated deployment \d+ in place"),
    (r"minds371 list$", r"(?m)^hello-web\s+sandbox\s+\d+\s+active"),
    (r"minds371 close ", r"deployment \d+ closed"),
    (r"minds371 sdl validate ", r"valid SDL 2\.0: 2 service\(s\) in 1 group\(s\)"),
    (r"minds371 sdl manifest ", r'(?s)^.*\n\[\n  \{\n    "name": "akash".*\nversion [0-9a-f]{64}'),
]
#: What a reader should never see.
NEVER = [r"Traceback", r"\[web\] \[web\]", r"\d\.\d{18}", r"\[info\s*\]", r"command not found"]


def _runnable(lang: str) -> list[Snippet]:
    return [s for s in snippets(lang) if s.skip_reason is None]


def test_every_runnable_block_is_run_or_says_why() -> None:
    blocks = snippets("sh") + snippets("python")
    assert blocks, "the documents have code blocks"
    skipped = {str(s): s.skip_reason for s in blocks if s.skip_reason is not None}
    assert all(skipped.values())
    # The documents this suite must keep runnable, at least:
    documents = {s.document for s in _runnable("sh")} | {s.document for s in _runnable("python")}
    assert {"README.md", "docs/getting-started.md"} <= documents


def _documents_with_shell_blocks() -> list[str]:
    return sorted({s.document for s in _runnable("sh")})


@pytest.mark.parametrize("document", _documents_with_shell_blocks())
def test_shell_blocks_run_in_a_terminal_as_written(document: str, tmp_path: Path) -> None:
    work = workspace(tmp_path)
    env = reader_env(tmp_path / "home")
    env["PS1"] = PROMPT
    shell = pexpect.spawn(
        "bash",
        ["--norc", "--noprofile"],
        cwd=str(work),
        env=env,
        encoding="utf-8",
        timeout=COMMAND_DEADLINE,
        dimensions=(50, 200),
    )
    try:
        shell.expect_exact(PROMPT)
        for block in (s for s in _runnable("sh") if s.document == document):
            for command in block.runnable_body().splitlines():
                _type(shell, command, block)
    finally:
        shell.sendline("exit")
        shell.close(force=True)


def _type(shell: pexpect.spawn, command: str, block: Snippet) -> None:
    shell.sendline(command)
    shell.expect_exact(PROMPT)  # under COMMAND_DEADLINE: pexpect raises TIMEOUT past it
    answer = _ANSI.sub("", shell.before or "").replace("\r", "")
    shell.sendline('echo "exit=$?"')
    shell.expect(r"exit=(\d+)")
    code = int(shell.match.group(1))
    shell.expect_exact(PROMPT)
    where = f"{block}: {command}\n{answer}"
    assert code == 0, where
    for pattern in NEVER:
        assert not re.search(pattern, answer), f"{pattern!r} in {where}"
    bare = command.split("#", 1)[0].strip()
    for command_pattern, answer_pattern in EXPECTED:
        if re.search(command_pattern, bare):
            assert re.search(answer_pattern, answer), f"{answer_pattern!r} not in {where}"


@pytest.mark.parametrize("block", _runnable("python"), ids=str)
def test_python_blocks_run_as_scripts(block: Snippet, tmp_path: Path) -> None:
    work = workspace(tmp_path)
    script = work / "snippet.py"
    script.write_text(block.runnable_body(), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=work,
        env=reader_env(tmp_path / "home"),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"{block}\n{done.stderr[-3000:]}"
    assert "Traceback" not in done.stderr
    # A host that configured no logging hears nothing from the library.
    assert "[info" not in done.stdout and "[warning" not in done.stdout, done.stdout
