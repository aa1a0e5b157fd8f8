from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from minds371.cli import main
from minds371.errors import ValidationError
from minds371_akash.sdl import parse_sdl
from minds371_deploy.request import load_request, parse_request
from tests.deploy.conftest import Sandbox, web_request, write_request

HOSTILE: list[tuple[str, dict[str, Any]]] = [
    ("shell in name", web_request("web; rm -rf /")),
    ("command substitution in name", web_request("$(reboot)")),
    ("shell in env name", web_request(environment_vars={"A;B": "x"})),
    ("huge replica count", _huge := web_request()),
    ("negative cpu", web_request()),
    ("unknown field", web_request(surprise=True)),
    ("wrong type", web_request(redundancy="two")),
    ("huge budget", web_request(budget={"max_uact_per_block": 10**30})),
    ("two workloads", web_request(image="nginx:1.27")),
    ("no workload", {"name": "web"}),
    ("image with spaces", {"name": "web", "image": "nginx latest"}),
    ("repo with shell", {"name": "web", "image": "nginx", "repo_url": "https://x/$(id)"}),
    ("ssl without domain", web_request(ssl=True)),
    ("not a mapping", ["name", "web"]),  # type: ignore[list-item]
]
HOSTILE[3][1]["infra_spec"]["services"][0]["count"] = 10**12
HOSTILE[4][1]["infra_spec"]["services"][0]["cpu"] = -2


@pytest.mark.parametrize(("label", "request_data"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_requests_are_refused_with_the_field_named(label: str, request_data: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_request(request_data)
    assert caught.value.issues, label
    assert all(issue.message for issue in caught.value.issues)


def test_every_bad_field_is_named_at_once() -> None:
    bad = web_request("Bad Name", redundancy=0, surprise=1, budget={"max_usd_per_month": -5})
    with pytest.raises(ValidationError) as caught:
        parse_request(bad)
    paths = {issue.path for issue in caught.value.issues}
    assert {"/name", "/redundancy", "/surprise", "/budget/max_usd_per_month"} <= paths


def test_env_values_survive_exactly_into_the_sdl() -> None:
    value = "quotes \" ' newline\n & <tag> ünïcode $(not-run)"
    request = parse_request(web_request(environment_vars={"TRICKY": value}))
    sdl = parse_sdl(request.base_sdl())
    (service,) = sdl.services.values()
    assert f"TRICKY={value}" in (service.env or [])


@pytest.mark.parametrize(
    "content",
    ["", "{not yaml: [", "a: &x [*x]", "- just\n- a list\n", "x" * 2_000_000],
    ids=["empty", "broken", "alias", "list", "oversized"],
)
def test_bad_request_files_exit_2_and_spend_nothing(
    served: Sandbox, tmp_path: Path, content: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = served.all_dseqs()
    path = tmp_path / "request.yaml"
    path.write_text(content)
    assert main(["deploy", str(path)]) == 2
    err = capsys.readouterr().err
    assert "invalid deployment request" in err
    assert "Traceback" not in err
    assert served.all_dseqs() == before


@pytest.mark.parametrize(("label", "request_data"), HOSTILE[:8], ids=[h[0] for h in HOSTILE[:8]])
def test_hostile_request_files_exit_2_without_a_spend(
    served: Sandbox,
    tmp_path: Path,
    label: str,
    request_data: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = served.all_dseqs()
    assert main(["deploy", str(write_request(tmp_path, request_data))]) == 2, label
    assert "Traceback" not in capsys.readouterr().err
    assert served.all_dseqs() == before


def test_one_hostile_request_through_a_real_process(cli: Any, tmp_path: Path) -> None:
    run = cli("deploy", str(write_request(tmp_path, HOSTILE[0][1])))
    assert run.code == 2
    assert "/name" in run.err


def test_a_request_file_may_be_yaml_or_json(tmp_path: Path) -> None:
    data = web_request("same")
    as_json = write_request(tmp_path, data, "r.json")
    as_yaml = tmp_path / "r.yaml"
    as_yaml.write_text(json.dumps(data))  # JSON is YAML
    assert load_request(as_json) == load_request(as_yaml)


@pytest.mark.parametrize("example", ["web", "multi-service", "gpu-inference"])
def test_the_example_requests_are_valid(example: str) -> None:
    root = Path(__file__).resolve().parents[2]
    request = load_request(root / "examples" / example / "request.yaml")
    parse_sdl(request.base_sdl())


@pytest.fixture
def served(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    """The served sandbox, for in-process calls of the command line."""
    monkeypatch.setenv("MINDS371_SANDBOX_URL", sandbox.url)
    return sandbox
