"""The hostile-input corpus: every case exits 2 naming the field, and nothing is deployed.

Each case runs ``minds371 deploy FILE`` in-process against the served sandbox (a few run as real
processes); the sandbox is checked afterwards to hold no new deployment. Non-regular files (a
FIFO, ``/dev/zero``, a directory) are refused without blocking.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from minds371.cli import main
from tests.deploy.conftest import ROOT, Sandbox
from tests.deploy.hostile_corpus import Case, corpus

CORPUS = corpus()


def test_the_corpus_is_large_and_covers_every_workload_form() -> None:
    assert len(CORPUS) >= 500
    labels = " ".join(case.label for case in CORPUS)
    for field in ("/image", "/infra_spec/services/0/image", "/sdl/services/web/image", "/budget"):
        assert field in labels


@pytest.fixture
def served(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    """The served sandbox, for in-process calls of the command line."""
    monkeypatch.setenv("MINDS371_SANDBOX_URL", sandbox.url)
    return sandbox


@pytest.fixture(scope="module")
def dseqs_before(sandbox: Sandbox) -> set[int]:
    return sandbox.all_dseqs()


def _write(folder: Path, case: Case) -> Path:
    path = folder / f"request{case.suffix}"
    if isinstance(case.content, bytes):
        path.write_bytes(case.content)
    else:
        path.write_text(case.content, encoding="utf-8")
    return path


def _names_the_problem(case: Case, printed: str) -> bool:
    # A problem with the whole document (path "/") is said in words alone: a bare "/" helps
    # nobody. Any other problem names its field's path.
    if case.path == "/":
        said = printed.split("invalid deployment request:", 1)
        return len(said) == 2 and len(said[1].strip()) > 10
    return case.path in printed


@pytest.mark.parametrize("case", CORPUS, ids=[case.label for case in CORPUS])
def test_a_hostile_request_exits_2_naming_the_field(
    case: Case,
    tmp_path: Path,
    served: Sandbox,
    dseqs_before: set[int],
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["deploy", str(_write(tmp_path, case))])
    out, err = capsys.readouterr()
    assert code == 2, (case.label, out, err)
    assert "Traceback" not in err
    assert _names_the_problem(case, out + err), (case.label, err)


@pytest.mark.parametrize("target", ["/dev/zero", "/dev/null", "directory", "missing"])
def test_devices_directories_and_missing_files_are_refused(
    target: str,
    tmp_path: Path,
    served: Sandbox,
    dseqs_before: set[int],
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = {"directory": tmp_path, "missing": tmp_path / "nothing.yaml"}.get(target, Path(target))
    assert main(["deploy", str(path)]) == 2
    assert str(path) in capsys.readouterr().err


def _process(*args: str) -> subprocess.CompletedProcess[str]:
    # A real process with a deadline: a reader that blocked on a FIFO would time out here.
    return subprocess.run(
        [sys.executable, "-m", "minds371.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if not k.startswith("MINDS371_SANDBOX")},
        check=False,
    )


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "request.yaml"
    os.mkfifo(fifo)  # nobody ever writes: reading it would block forever
    for args in (
        ["deploy", str(fifo)],
        ["sdl", "validate", str(fifo)],
        ["sdl", "build", str(fifo)],
    ):
        done = _process(*args)
        assert done.returncode == 2, (args, done.stderr)
        assert "FIFO" in done.stderr and "Traceback" not in done.stderr


def test_hostile_spec_and_sdl_files_are_refused_by_the_sdl_commands(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deep = tmp_path / "deep.yaml"
    deep.write_text("[" * 10_000 + "]" * 10_000)
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "services:\n- name: web\n  image: NGINX\n  ports: [{port: 80}]\nmax_price_uact: 1\n"
    )
    for args, named in (
        (["sdl", "manifest", "/dev/zero"], "device"),
        (["sdl", "validate", str(deep)], "nesting"),
        (["sdl", "build", str(spec)], "/services/0/image"),
    ):
        assert main(args) == 2, args
        err = capsys.readouterr().err
        assert named in err and "Traceback" not in err, err


@pytest.mark.parametrize("index", [137, -3])
def test_corpus_cases_through_a_real_process(index: int, tmp_path: Path, cli: Any) -> None:
    case = CORPUS[index]
    run = cli("deploy", str(_write(tmp_path, case)))
    assert run.code == 2, (case.label, run.err)
    assert _names_the_problem(case, run.out + run.err), (case.label, run.err)


def test_nothing_was_deployed(sandbox: Sandbox, dseqs_before: set[int]) -> None:
    # Runs after the corpus (module order): no case created a deployment.
    assert sandbox.all_dseqs() == dseqs_before


def test_deep_json_is_refused_even_with_a_raised_recursion_limit(tmp_path: Path) -> None:
    # A host (or a test tool) may raise the recursion limit; the JSON parser then recurses on
    # the C stack until the process crashes. Depth is measured before parsing, so it never does.
    path = tmp_path / "deep.json"
    path.write_text("[" * 500_000 + "]" * 500_000)
    script = (
        "import sys; sys.setrecursionlimit(10**7)\n"
        "from minds371.errors import ValidationError\n"
        "from minds371_deploy.request import load_request\n"
        "try:\n    load_request(sys.argv[1])\n"
        "except ValidationError as exc:\n    print(exc.message)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-500:]
    assert "nested deeper than 64 levels" in done.stdout
