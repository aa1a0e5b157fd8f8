"""minds371 sdl validate|manifest|build, in process and once as a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from minds371.cli import main
from minds371_akash.sdl import build_manifest, parse_sdl
from tests.sdl._sdl import base, dump
from tests.sdl.conftest import GO

SIMPLE = GO / "input" / "v2.0" / "simple" / "input.yaml"


def _write(tmp_path: Path, text: str | bytes, name: str = "deploy.yaml") -> str:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return str(path)


def test_validate_ok_prints_warnings_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sdl", "validate", str(SIMPLE)]) == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert "warning: /profiles/placement/westcoast/pricing/web/denom" in err
    assert "valid SDL 2.0" in err


def test_validate_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sdl", "validate", str(SIMPLE), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["valid"] is True
    assert doc["sdl_version"] == "2.0"
    assert doc["warnings"][0]["path"] == "/profiles/placement/westcoast/pricing/web/denom"


def test_validate_lists_every_error_one_per_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = base()
    doc["services"]["web"]["expose"][0]["port"] = 70000
    doc["deployment"]["web"]["akash"]["count"] = 0
    assert main(["sdl", "validate", _write(tmp_path, dump(doc))]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.strip().splitlines()
    assert lines[0] == "minds371: invalid SDL:"
    assert "  /services/web/expose/0/port: must be at most 65535" in lines
    assert "  /deployment/web/akash/count: must be at least 1" in lines
    assert "Traceback" not in err


def test_validate_reports_what_a_deploy_refuses_before_spending(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The chain would accept this SDL; the kubelet could not parse the image.
    doc = base()
    doc["services"]["web"]["image"] = "NGINX:1.27"
    assert main(["sdl", "validate", _write(tmp_path, dump(doc)), "--json"]) == 2
    (issue,) = json.loads(capsys.readouterr().out)["issues"]
    assert issue["path"] == "/services/web/image"
    assert "must be lowercase" in issue["message"]


def test_validate_json_reports_issues_as_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = base()
    doc["deployment"]["web"]["akash"]["count"] = 0
    assert main(["sdl", "validate", _write(tmp_path, dump(doc)), "--json"]) == 2
    out, err = capsys.readouterr()
    assert json.loads(out) == {
        "valid": False,
        "issues": [{"path": "/deployment/web/akash/count", "message": "must be at least 1"}],
    }
    assert "/deployment/web/akash/count" in err


def test_manifest_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sdl", "manifest", str(SIMPLE), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    expected = build_manifest(parse_sdl(SIMPLE.read_text()))
    assert doc == {
        "version": expected.version,
        "manifest": expected.json,
        "groups": expected.group_specs,
    }


def test_manifest_plain_prints_the_manifest_indented(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sdl", "manifest", str(SIMPLE)]) == 0
    out, err = capsys.readouterr()
    expected = build_manifest(parse_sdl(SIMPLE.read_text()))
    assert out.startswith("[\n  {\n")  # for people: one field a line
    assert json.loads(out) == json.loads(expected.json)
    assert expected.version in err


@pytest.mark.parametrize("command", ["validate", "manifest"])
def test_bad_files_with_json_print_one_error_document(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    assert main(["sdl", command, _write(tmp_path, b"a: [\n"), "--json"]) == 2
    out, err = capsys.readouterr()
    document = json.loads(out)
    assert document["status"] == "invalid" and "not valid YAML" in document["error"]["message"]
    assert "not valid YAML" in err


def test_build_writes_sdl(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = (
        "services:\n- name: web\n  image: nginx\n  env: {GREETING: 'a & <b>'}\n"
        "  ports: [{port: 80}]\nmax_price_uact: 100\n"
    )
    assert main(["sdl", "build", _write(tmp_path, spec, "spec.yaml")]) == 0
    out = capsys.readouterr().out
    sdl = parse_sdl(out)
    assert sdl.services["web"].env == ("GREETING=a & <b>",)


def test_build_writes_a_shared_value_out_not_as_a_yaml_anchor(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = (
        "services:\n- {name: web, image: nginx, ports: [{port: 80}]}\n"
        "- {name: api, image: nginx, ports: [{port: 81}]}\nmax_price_uact: 100\n"
    )
    assert main(["sdl", "build", _write(tmp_path, spec, "spec.yaml")]) == 0
    out = capsys.readouterr().out
    assert "&id" not in out and "*id" not in out
    assert out.count("amount: 100") == 2


def test_build_reports_spec_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sdl", "build", _write(tmp_path, "services: 3\n", "spec.yaml")]) == 2
    err = capsys.readouterr().err
    assert "invalid workload spec" in err
    assert "/services: must be a list" in err


def _billion_laughs() -> str:
    lines = ["a: &a [x,x,x,x,x,x,x,x,x,x]"]
    for index in range(1, 10):
        name, prev = chr(97 + index), chr(96 + index)
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 10) + "]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty"),
        (b"a: [\n", "not valid YAML"),
        (b"\xff\xfe\x00", "UTF-8"),
        (_billion_laughs().encode(), "expands to more than"),
        (b"[" * 500 + b"]" * 500, "deeper than"),
        (b"- just\n- a list\n", "mapping"),
    ],
    ids=["empty", "not-yaml", "binary", "alias-bomb", "deep", "not-a-mapping"],
)
@pytest.mark.parametrize("command", ["validate", "manifest", "build"])
def test_bad_files_exit_2_with_one_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    command: str,
    content: bytes,
    reason: str,
) -> None:
    assert main(["sdl", command, _write(tmp_path, content)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert reason in err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err


def test_oversized_file_is_refused_without_reading_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "huge.yaml"
    with path.open("wb") as handle:
        handle.truncate(100 * 1024 * 1024)  # sparse: no disk is used
    assert main(["sdl", "validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "larger than the limit" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("target", ["missing.yaml", "."])
def test_unreadable_paths_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], target: str
) -> None:
    assert main(["sdl", "validate", str(tmp_path / target)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_sdl_without_a_command_shows_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sdl"]) == 2
    assert "validate" in capsys.readouterr().err


def test_real_process_reads_stdin_and_exits_2_on_errors() -> None:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    command = [sys.executable, "-m", "minds371.cli", "sdl", "manifest", "-", "--json"]
    ok = subprocess.run(
        command, input=SIMPLE.read_bytes(), capture_output=True, env=env, timeout=60, check=False
    )
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["version"] == build_manifest(parse_sdl(SIMPLE.read_text())).version
    bad = subprocess.run(
        command, input=b"a: [\n", capture_output=True, env=env, timeout=60, check=False
    )
    assert bad.returncode == 2
    assert json.loads(bad.stdout)["status"] == "invalid"  # --json: the error is the document
    assert b"Traceback" not in bad.stderr
    assert len(bad.stderr.decode().strip().splitlines()) == 1
