"""End to end on this machine: a repository served over HTTP on 127.0.0.1 is cloned, built with
podman (or buildah), pushed to a docker-registry on 127.0.0.1, deployed on the served sandbox by
its digest, and its endpoint answers; hostile inputs stop before anything runs or is spent."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import yaml

from tests.deploy.building.conftest import DOCKERFILE, Repos, registry_digest
from tests.deploy.conftest import ROOT, Sandbox, write_request

PAGE = {"Dockerfile": DOCKERFILE, "index.html": "<h1>built from source</h1>\n"}
EXAMPLE = ROOT / "examples" / "from-source"


def test_the_example_is_built_pushed_and_deployed_by_digest_and_its_endpoint_answers(
    cli: Any, sandbox: Sandbox, repos: Repos, registry: str, build_env: Path, tmp_path: Path
) -> None:
    # examples/from-source as its README deploys it: its app as a repository (served over
    # HTTP here, a local path there) and its request, with this test's registry.
    files = {p.name: p.read_text() for p in (EXAMPLE / "app").iterdir()}
    url = repos.publish("site", files)
    request = yaml.safe_load((EXAMPLE / "request.yaml").read_text())
    request.update(name="site", repo_url=url, container_registry=f"{registry}/minds371")
    path = write_request(tmp_path, request)
    started = time.monotonic()
    run = cli("deploy", str(path), "--json")
    elapsed = time.monotonic() - started
    assert run.code == 0, run.err
    commit = repos.head("site")
    digest = registry_digest(registry, "minds371/site", commit)
    assert digest is not None  # tagged with the commit, never :latest
    assert registry_digest(registry, "minds371/site", "latest") is None
    reference = f"{registry}/minds371/site@{digest}"
    world = json.dumps(sandbox.deployments())
    assert reference in world  # the SDL names the pushed image by digest
    host = urlsplit(run.json()["endpoints"][0]).hostname
    answer = httpx.get(sandbox.url, headers={"host": str(host)}, timeout=10)
    assert answer.status_code == 200
    assert request["build_commands"] == [["test", "-f", "index.html"]]
    assert "build.building" in run.err and "build.pushed" in run.err
    print(f"clone+build+push+deploy through the CLI: {elapsed:.1f} s")

    # Deployed again (an update of the running one, which is compared with the image its
    # task pushed, read back from its journal): the same commit is not built twice.
    again = cli("deploy", str(path), "--json")
    assert again.code == 0, again.err
    assert again.json()["update"]["kind"] == "in_place"
    assert "build.reused" in again.err
    assert "build.building" not in again.err  # the same commit is not built twice
    assert registry_digest(registry, "minds371/site", commit) == digest


@pytest.mark.parametrize(
    ("label", "overrides", "says"),
    [
        # Refused when the request is read: git's ref-name rules and no shell characters.
        ("shell in the branch", {"repo_branch": "main;reboot"}, "shell metacharacters"),
        # Refused by the build (test_pipeline.py has every other way a source fails to
        # build, and a local path outside the allow-list).
        ("a Dockerfile that fails", {"dockerfile": "Broken.Dockerfile"}, "image build"),
    ],
)
def test_hostile_build_inputs_exit_2_with_the_reason_and_leave_nothing_behind(
    cli: Any,
    sandbox: Sandbox,
    repos: Repos,
    registry: str,
    build_env: Path,
    tmp_path: Path,
    label: str,
    overrides: dict[str, Any],
    says: str,
) -> None:
    url = repos.publish(
        "hostile", {**PAGE, "Broken.Dockerfile": "FROM scratch\nCOPY missing.txt /x\n"}
    )
    request = {"name": "hostile", "repo_url": url, "container_registry": f"{registry}/minds371"}
    request.update(overrides)
    before = sandbox.all_dseqs()
    run = cli("deploy", str(write_request(tmp_path, request)), "--json")
    assert run.code == 2, (label, run.out, run.err)
    assert says in run.json()["error"]["message"], label
    assert sandbox.all_dseqs() == before  # no deployment
    assert registry_digest(registry, "minds371/hostile", repos.head("hostile")) is None
