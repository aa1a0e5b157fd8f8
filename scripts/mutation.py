"""Run mutmut on each critical module with the tests that guard it; print the score per module.

mutmut mutates files under a flat or ``src/`` layout and imports them by their path, while this
repository keeps its packages in ``minds371/``, ``plugins/`` and ``agents/``. So each module is
staged in ``build/mutation/<name>/``: every package copied under ``src/``, the tests, and a
``pyproject.toml`` whose ``[tool.mutmut]`` names that module and its tests. mutmut's own cache
and its results stay there until the next run of that module.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build" / "mutation"
PACKAGES = ["minds371", *sorted(str(p) for p in Path(ROOT).glob("plugins/minds371_*")),
            *sorted(str(p) for p in Path(ROOT).glob("agents/minds371_*"))]  # fmt: skip
KILLED = {"killed", "timeout"}
NOT_COUNTED = {"skipped", "not checked", "check was interrupted by user"}


def toml_value(value: Any) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return str(value)


def staged_source(source: str) -> str:
    """``plugins/minds371_akash/bidding.py`` -> ``src/minds371_akash/bidding.py``."""
    parts = Path(source).parts
    return str(Path("src", *(parts[1:] if parts[0] in ("plugins", "agents") else parts)))


def stage(name: str, module: dict[str, Any], shared: dict[str, Any]) -> Path:
    where = BUILD / name
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".hypothesis")
    # a fresh stage each time: mutmut's cache does not notice every change to the tests
    shutil.rmtree(where, ignore_errors=True)
    (where / "src").mkdir(parents=True, exist_ok=True)
    for package in PACKAGES:
        shutil.copytree(ROOT / package, where / "src" / Path(package).name, ignore=ignore)
    # MUTATION_TESTS: take the tests from another checkout (to score an older suite, say)
    tests = Path(os.environ.get("MUTATION_TESTS", ROOT / "tests"))
    shutil.copytree(tests, where / "tests", ignore=ignore)
    for extra in shared.get("also_copy", []):
        if (ROOT / extra).is_dir():
            shutil.copytree(ROOT / extra, where / extra, ignore=ignore)
        elif (ROOT / extra).exists():
            shutil.copy2(ROOT / extra, where / extra)
    text = (ROOT / "pyproject.toml").read_text()
    # keep everything but the mutation tables, then write this module's [tool.mutmut]
    text = re.split(r"(?m)^# Mutation testing", text)[0]
    settings = {
        **shared,
        "only_mutate": [staged_source(module["source"])],
        "pytest_add_cli_args_test_selection": module["tests"],
    }
    lines = ["[tool.mutmut]", *(f"{key} = {toml_value(v)}" for key, v in settings.items())]
    (where / "pyproject.toml").write_text(text.rstrip() + "\n\n" + "\n".join(lines) + "\n")
    return where


def results(where: Path, module: dict[str, Any]) -> Counter[str]:
    out = subprocess.run(
        [str(Path(sys.executable).with_name("mutmut")), "results", "--all", "true"],
        cwd=where,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    prefix = staged_source(module["source"])[len("src/") : -len(".py")].replace("/", ".")
    patterns = [f"{prefix}.{f}" for f in module.get("functions", ["*"])]
    counts: Counter[str] = Counter()
    for line in out.splitlines():
        key, _, status = line.strip().rpartition(": ")
        if key.startswith(prefix + ".") and any(Path(key).match(p) for p in patterns):
            counts[status] += 1
    return counts


def main() -> int:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    shared = config["tool"]["mutmut"]
    modules: dict[str, dict[str, Any]] = config["tool"]["minds371"]["mutation"]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "modules", nargs="*", metavar="module", help=f"{', '.join(modules)} (default: all)"
    )
    args = parser.parse_args()
    unknown = [m for m in args.modules if m not in modules]
    if unknown:
        parser.error(f"unknown module {', '.join(unknown)}; known: {', '.join(modules)}")
    chosen = args.modules or list(modules)
    children = os.environ.get("MUTATION_CHILDREN", "2")
    mutmut = str(Path(sys.executable).with_name("mutmut"))
    rows = []
    for name in chosen:
        module = modules[name]
        where = stage(name, module, shared)
        prefix = staged_source(module["source"])[len("src/") : -len(".py")].replace("/", ".")
        names = [f"{prefix}.{f}" for f in module.get("functions", [])]
        print(f"== {name}: {module['source']}", flush=True)
        began = time.monotonic()
        with (where / "mutmut.log").open("w") as log:  # its progress display is one long line
            done = subprocess.run(
                [mutmut, "run", "--max-children", children, *names],
                cwd=where,
                stdout=log,
                stderr=subprocess.STDOUT,
                check=False,
            )
        elapsed = time.monotonic() - began
        if done.returncode != 0:
            print(f"   mutmut failed (exit {done.returncode}); see {where / 'mutmut.log'}")
            continue
        counts = results(where, module)
        rows.append((name, counts, elapsed))
    print()
    print(f"{'module':<14} {'killed':>7} {'survived':>9} {'other':>6} {'score':>7} {'time':>8}")
    for name, counts, elapsed in rows:
        killed = sum(counts[s] for s in KILLED)
        survived = counts["survived"]
        total = sum(n for s, n in counts.items() if s not in NOT_COUNTED)
        other = total - killed - survived
        score = f"{100 * killed / total:.1f}%" if total else "-"
        print(f"{name:<14} {killed:>7} {survived:>9} {other:>6} {score:>7} {elapsed:>7.0f}s")
    print("\nSurviving mutants: cd build/mutation/<module> && mutmut results; mutmut show <name>")
    return 0


if __name__ == "__main__":
    sys.exit(main())
