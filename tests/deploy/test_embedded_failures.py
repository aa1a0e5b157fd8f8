"""Failed deployments on the default (embedded) sandbox end, with their diagnosis, within seconds.

Each case runs ``minds371 deploy`` as a user would: a separate process on the in-process sandbox
(no ``MINDS371_SANDBOX_URL``), under a deadline. A failure used to leave the process spinning
forever while the in-process WebSocket transport closed under cancellation.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEADLINE = 90.0  # seconds; each of these fails in about 2 s

FAILURES = {
    "manifest-unknown": ("nginx:nonexistent", {}, "image_pull_failed"),
    "unknown-registry": ("registry.invalid.example/team/app:1.0", {}, "image_pull_failed"),
    "crash-loop-tag": ("nginx:crashloop", {}, "crash_loop"),
    "crash-loop-env": ("nginx:1.27", {"SANDBOX_CRASH": "1"}, "crash_loop"),
}


def _request(tmp_path: Path, name: str, image: str, env: dict[str, str]) -> Path:
    service: dict[str, object] = {
        "name": "web",
        "image": image,
        "cpu": 0.5,
        "memory": "512Mi",
        "storage": "1Gi",
        "ports": [{"port": 80}],
    }
    if env:
        service["env"] = env
    request = {
        "name": name,
        "infra_spec": {"services": [service], "max_price_uact": 100},
        "budget": {"max_usd_per_month": 50},
    }
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(request))
    return path


def _deploy(home: Path, request: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MINDS371_", "AKASH_")) and k != "PYTHONFAULTHANDLER"
    }
    env["MINDS371_HOME"] = str(home)
    return subprocess.run(
        [sys.executable, "-m", "minds371.cli", "deploy", str(request), *flags],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        check=False,
    )


@pytest.mark.parametrize("case", sorted(FAILURES))
def test_a_failed_embedded_deploy_exits_1_with_its_diagnosis_as_json(
    case: str, tmp_path: Path
) -> None:
    image, env, kind = FAILURES[case]
    done = _deploy(tmp_path / "home", _request(tmp_path, f"fail-{case}", image, env), "--json")
    assert done.returncode == 1, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert result["status"] == "failed"
    assert result["error"]["details"]["diagnosis"]["kind"] == kind
    assert "Traceback" not in done.stderr


def test_a_failed_embedded_deploy_prints_the_diagnosis_for_people(tmp_path: Path) -> None:
    image, env, _ = FAILURES["crash-loop-tag"]
    done = _deploy(tmp_path / "home", _request(tmp_path, "fail-text", image, env))
    assert done.returncode == 1, done.stderr[-2000:]
    # Said once, in one format: no log line, no progress line, no repeated summary.
    assert done.stderr.count("The container keeps exiting right after it starts") == 1
    assert "✗ failed: deployment" in done.stderr
    assert "evidence  BackOff" in done.stderr
    assert re.search(r"do        Read the service logs \(`minds371 logs \d+`\)", done.stderr)
    assert "task.failed" not in done.stderr
    assert "Traceback" not in done.stderr
