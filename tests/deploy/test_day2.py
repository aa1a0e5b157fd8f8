"""Day 2 on the embedded sandbox, through the command line: update instead of a second
deployment, list what runs, discover it, watch what is gone, monitor from any shell."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import anyio
import pytest

from minds371.cli import main
from tests.deploy.conftest import journal_a_failed_update
from tests.servers.refusing_ipfs import ipfs_node_that_will_not_store

ROOT = Path(__file__).resolve().parents[2]


def _request(folder: Path, file: str, *, cpu: float = 0.5, greeting: str = "hi") -> Path:
    request = {
        "name": "day2",
        "infra_spec": {
            "services": [
                {
                    "name": "web",
                    "image": "nginx:1.27",
                    "cpu": cpu,
                    "memory": "512Mi",
                    "storage": "1Gi",
                    "env": {"GREETING": greeting},
                    "ports": [{"port": 80}],
                }
            ],
            "max_price_uact": 100,
        },
        "budget": {"max_usd_per_month": 50},
    }
    path = folder / file
    path.write_text(json.dumps(request))
    return path


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, (json.loads(out) if "--json" in argv else out), err


def test_a_running_name_is_updated_in_place_or_replaced_never_deployed_twice(
    clean_environ: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, first, err = _run(capsys, "deploy", str(_request(tmp_path, "a.json")), "--json")
    assert code == 0, err
    assert first["update"]["kind"] == "new"
    code, before, _ = _run(capsys, "list", "--json", "--offline")

    # Only the manifest changes (env): the same deployment, updated where it runs.
    changed = _request(tmp_path, "b.json", greeting="hello again")
    code, second, err = _run(capsys, "deploy", str(changed), "--json")
    assert code == 0, err
    assert second["update"]["kind"] == "in_place"
    assert second["dseq"] == first["dseq"]
    code, rows, _ = _run(capsys, "list", "--json")
    assert [(r["dseq"], r["state"]) for r in rows] == [(first["dseq"], "active")]
    assert rows[0]["created_at"] == before[0]["created_at"]  # its age is the deployment's

    # The resources change: a new deployment takes over, then the old one is closed.
    bigger = _request(tmp_path, "c.json", cpu=1.0)
    code, third, err = _run(capsys, "deploy", str(bigger), "--json")
    assert code == 0, err
    assert third["update"]["kind"] == "replace"
    assert third["update"]["previous_dseq"] == first["dseq"]
    assert third["update"]["replaced"] == {"dseq": first["dseq"], "closed": True}
    assert third["dseq"] != first["dseq"]
    code, rows, _ = _run(capsys, "list", "--json")
    assert [(r["dseq"], r["state"]) for r in rows] == [(third["dseq"], "active")]
    assert rows[0]["runway_seconds"] > 0 and rows[0]["usd_per_month"] > 0
    code, everything, _ = _run(capsys, "ps", "--all", "--json", "--offline")
    states = {r["dseq"]: r["state"] for r in everything}
    assert states == {third["dseq"]: "open", first["dseq"]: "closed"}  # listed once each

    # Discovery on the embedded sandbox: the record moved to the new one, and it answers.
    code, found, err = _run(capsys, "discover", "day2", "--json")
    assert code == 0, err
    assert found["healthy"] is True
    assert [e["url"] for e in found["endpoints"]] == third["endpoints"]

    # --new: a second one beside it, on purpose.
    code, fourth, err = _run(capsys, "deploy", str(bigger), "--new", "--json")
    assert code == 0, err
    assert fourth["update"]["kind"] == "new"
    code, out, _ = _run(capsys, "list", "-q")
    assert out.split() == [fourth["dseq"], third["dseq"]]  # newest first

    # The text says which happened.
    code, _, err = _run(capsys, "deploy", str(changed))
    assert code == 0
    assert f"ready replaced deployment {fourth['dseq']} with" in err


def test_watch_marks_a_deployment_its_network_forgot_as_gone(
    clean_environ: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, deployed, err = _run(capsys, "deploy", str(_request(tmp_path, "a.json")), "--json")
    assert code == 0, err
    code, _, err = _run(capsys, "watch", "--once")
    assert code == 0
    assert "auto_top_up" in err  # the first pass switches Console's auto top-up on
    code, _, err = _run(capsys, "watch", "--once")
    assert code == 0
    assert "checked 1 deployment: all leased and serving" in err  # says what it did

    # The sandbox's world is reset (a new served one, a deleted state file): it is not there.
    (clean_environ / "sandbox" / "world.json").unlink()
    code, report, err = _run(capsys, "watch", "--once", "--json")
    assert code == 0, err
    assert report["checked"] == 1
    assert [(a["kind"], a["dseq"]) for a in report["actions"]] == [("gone", deployed["dseq"])]
    code, report, _ = _run(capsys, "watch", "--once", "--json")
    assert report == {"checked": 0, "actions": []}  # marked: not checked again
    code, rows, _ = _run(capsys, "list", "--all", "--json", "--offline")
    assert [(r["dseq"], r["state"]) for r in rows] == [(deployed["dseq"], "closed")]


def test_watch_exits_1_when_it_could_not_check_a_deployment(
    clean_environ: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, deployed, err = _run(capsys, "deploy", str(_request(tmp_path, "a.json")), "--json")
    assert code == 0, err
    (clean_environ / "sandbox" / "world.json").write_text("{not json")
    code, report, err = _run(capsys, "watch", "--once", "--json")
    assert code == 1
    assert [(a["kind"], a["dseq"]) for a in report["actions"]] == [("error", deployed["dseq"])]
    code, _, err = _run(capsys, "watch", "--once")
    assert code == 1
    assert f"could not check deployment {deployed['dseq']}" in err


def test_the_monitor_script_works_from_a_shell_without_minds371_on_its_path(
    clean_environ: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, deployed, err = _run(capsys, "deploy", str(_request(tmp_path, "a.json")), "--json")
    assert code == 0, err
    script = Path(deployed["monitor_script"])
    env = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root")}  # no venv, no HOME
    done = subprocess.run(
        [str(script), "status"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert f"deployment {deployed['dseq']}: active" in done.stderr
    # Prices as people write them, in the script and in every JSON document alike.
    assert "6.900000000000000000" not in script.read_text()
    code, status, _ = _run(capsys, "status", deployed["dseq"], "--json")
    code, bids, _ = _run(capsys, "bids", deployed["dseq"], "--json")
    amounts = [lease["price"]["amount"] for lease in status["leases"]]
    amounts += [bid["price"]["amount"] for bid in bids]
    assert amounts and all(not re.search(r"\.\d*0$", a) for a in amounts), amounts


def test_a_failed_in_place_update_is_undone_and_the_deployment_keeps_serving(
    clean_environ: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, first, err = _run(capsys, "deploy", str(_request(tmp_path, "a.json")), "--json")
    assert code == 0, err
    broken = json.loads(_request(tmp_path, "b.json").read_text())
    broken["infra_spec"]["services"][0]["image"] = "nginx:crashloop"
    (tmp_path / "b.json").write_text(json.dumps(broken))
    code, failed, err = _run(capsys, "deploy", str(tmp_path / "b.json"), "--json")
    assert code == 1
    assert failed["error"]["details"]["rolled_back"] is True
    assert "runs its previous manifest again" in err
    code, rows, _ = _run(capsys, "list", "--json")
    assert [(r["dseq"], r["state"], r["task_id"]) for r in rows] == [
        (first["dseq"], "active", first["task_id"])  # still the first task's, still running
    ]
    code, found, err = _run(capsys, "discover", "day2", "--json")
    assert code == 0, err
    assert found["healthy"] is True


def test_an_update_that_cannot_be_recorded_gives_the_deployment_back_serving(
    clean_environ: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The update itself succeeds; the registry then cannot store its record. The service ran
    # before this update: it must keep running, on its previous manifest, still the first
    # task's (owned, watched, recorded), instead of being closed as a new deployment would be.
    code, first, err = _run(capsys, "deploy", str(_request(tmp_path, "a.json")), "--json")
    assert code == 0, err
    changed = _request(tmp_path, "b.json", greeting="hello again")
    with ipfs_node_that_will_not_store() as api:
        monkeypatch.setenv("MINDS371_IPFS_API", api)
        code, failed, err = _run(capsys, "deploy", str(changed), "--json")
        monkeypatch.delenv("MINDS371_IPFS_API")
    assert code == 1, err
    assert failed["error"]["type"] == "RegistryError"
    assert failed["error"]["details"]["rolled_back"] is True
    code, rows, _ = _run(capsys, "list", "--all", "--json")
    assert [(r["dseq"], r["state"], r["task_id"]) for r in rows] == [
        (first["dseq"], "active", first["task_id"])
    ]
    code, found, err = _run(capsys, "discover", "day2", "--json")
    assert code == 0, err
    assert found["healthy"] is True
    # Deploying the change again, with the registry back, updates the same deployment.
    code, again, err = _run(capsys, "deploy", str(changed), "--json")
    assert code == 0, err
    assert again["dseq"] == first["dseq"]
    assert again["update"]["kind"] == "in_place"
    code, rows, _ = _run(capsys, "list", "--all", "--json")
    assert [(r["dseq"], r["state"], r["task_id"]) for r in rows] == [
        (first["dseq"], "active", again["task_id"])  # listed once, under the task holding it
    ]


def test_reconcile_leaves_a_failed_update_s_deployment_with_the_task_it_came_from(
    clean_environ: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A failed task's open deployment is an orphan to close, unless it was an in-place update
    # of a deployment that the task it came from still holds: that one ran before, and runs on.
    code, first, err = _run(capsys, "deploy", str(_request(tmp_path, "a.json")), "--json")
    assert code == 0, err
    changed = json.loads(_request(tmp_path, "b.json", greeting="hello again").read_text())
    anyio.run(journal_a_failed_update, clean_environ, changed, first)
    code, report, err = _run(capsys, "reconcile", "--json")
    assert code == 0, err
    assert report["closed"] == []
    code, rows, _ = _run(capsys, "list", "--all", "--json")
    assert [(r["dseq"], r["state"], r["task_id"]) for r in rows] == [
        (first["dseq"], "active", first["task_id"])
    ]


def test_a_name_closed_by_hand_is_deployed_anew_not_updated(
    clean_environ: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, first, err = _run(capsys, "deploy", str(_request(tmp_path, "a.json")), "--json")
    assert code == 0, err
    code, _, err = _run(capsys, "close", first["dseq"])
    assert code == 0, err
    code, again, err = _run(capsys, "deploy", str(_request(tmp_path, "a.json")), "--json")
    assert code == 0, err
    assert again["update"]["kind"] == "new" and again["dseq"] != first["dseq"]
    code, rows, _ = _run(capsys, "list", "--all", "--json", "--offline")
    assert {r["dseq"]: r["state"] for r in rows} == {
        again["dseq"]: "open",
        first["dseq"]: "closed",  # found closed when the plan was made, and recorded
    }
