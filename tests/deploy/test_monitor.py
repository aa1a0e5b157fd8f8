from __future__ import annotations

import subprocess
from decimal import Decimal
from pathlib import Path

import pytest

from minds371_akash.market import Lease
from minds371_akash.monitor import write_monitor_script

HOSTILE_PROVIDER = "akash1$(touch PWNED)`touch PWNED2`'\"\nrm -rf ~;"


def lease(provider: str) -> Lease:
    return Lease.model_validate(
        {
            "id": {"owner": "akash1owner", "dseq": 7, "gseq": 1, "oseq": 1, "provider": provider},
            "state": "active",
            "price": {"denom": "uact", "amount": Decimal("6.9")},
        }
    )


def test_hostile_values_in_the_monitor_script_stay_inert(tmp_path: Path) -> None:
    script = write_monitor_script(
        tmp_path / "deployments",
        dseq=7,
        network="sandbox$(touch PWNED3)",
        name="web'; touch PWNED4; '",
        leases=[lease(HOSTILE_PROVIDER)],
    )
    check = subprocess.run(["bash", "-n", str(script)], capture_output=True, check=False)
    assert check.returncode == 0, check.stderr
    listed = subprocess.run(
        ["bash", str(script), "leases"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
        timeout=30,
    )
    assert listed.returncode == 0, listed.stderr
    assert HOSTILE_PROVIDER in listed.stdout  # printed verbatim, not run
    assert not list(tmp_path.glob("PWNED*"))


def test_the_script_runs_minds371_with_the_deployment(tmp_path: Path) -> None:
    fake = tmp_path / "fake-minds371"
    fake.write_text('#!/usr/bin/env bash\nprintf "%s\\n" "$@"\n')
    fake.chmod(0o755)
    script = write_monitor_script(
        tmp_path, dseq=42, network="console", name="web", leases=[lease("akash1p")]
    )
    done = subprocess.run(
        ["bash", str(script), "logs", "--tail", "3"],
        capture_output=True,
        text=True,
        env={"MINDS371": str(fake), "PATH": "/usr/bin:/bin"},
        check=False,
        timeout=30,
    )
    assert done.stdout.split() == ["logs", "42", "--network", "console", "--tail", "3"]


def test_scripts_are_private_files_side_by_side_and_replaced_whole_when_written_again(
    tmp_path: Path,
) -> None:
    import os
    import stat

    deployments = tmp_path / "home" / "deployments"  # its parents missing: made too
    old_umask = os.umask(0o022)  # a usual umask: it must not loosen or tighten either mode
    try:
        first = write_monitor_script(deployments, dseq=7, network="sandbox", name="web", leases=[])
        beside = write_monitor_script(deployments, dseq=9, network="sandbox", name="web", leases=[])
        again = write_monitor_script(
            deployments, dseq=7, network="sandbox", name="web", leases=[lease("akash1p")]
        )
    finally:
        os.umask(old_umask)
    assert first == again == deployments / "web-7.monitor-akash.sh"
    assert beside == deployments / "web-9.monitor-akash.sh"
    for script in (again, beside):
        assert stat.S_IMODE(script.stat().st_mode) == 0o700
    assert stat.S_IMODE(deployments.stat().st_mode) == 0o700
    assert "DSEQ=9" in beside.read_text()
    assert "gseq=1" in again.read_text()  # the second write replaced the first, whole
    # One file per deployment, no folder, no temporary left.
    assert sorted(p.name for p in deployments.iterdir()) == [first.name, beside.name]


def test_a_script_written_in_its_own_folder_before_stays_there(tmp_path: Path) -> None:
    deployments = tmp_path / "deployments"
    folder = deployments / "web-7"  # the layout of earlier versions: a folder per deployment
    folder.mkdir(parents=True, mode=0o700)
    (folder / "monitor-akash.sh").write_text("DSEQ=7\n")
    again = write_monitor_script(
        deployments, dseq=7, network="sandbox", name="web", leases=[lease("akash1p")]
    )
    assert again == folder / "monitor-akash.sh"  # where its owner already runs it from
    assert "gseq=1" in again.read_text()
    assert sorted(p.name for p in deployments.iterdir()) == ["web-7"]


def test_a_name_that_leads_out_of_the_folder_is_refused(tmp_path: Path) -> None:
    for name in ("../../etc/x", "a/b", ".hidden"):
        with pytest.raises(ValueError, match="cannot name a file"):
            write_monitor_script(tmp_path, dseq=1, network="sandbox", name=name, leases=[])
    assert not list(tmp_path.rglob("*"))
