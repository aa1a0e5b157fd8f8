from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_embedding_example_runs_and_plans_a_trip() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples/embedding/embed_runtime.py")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "forecast.looked_up: looked up Lisbon" in done.stdout
    assert "result: {'pack_umbrella': False}" in done.stdout
