"""Secrets planted in every input reach no output, no file under the home and no SQLite table.

A deployment goes through the ``minds371`` command, at debug log level, over the Console API (the
served sandbox on 127.0.0.1 stands in for Console), with a distinct secret in each input: the
Console API key, the registry signing key, a registry password, a secret env value and a
mnemonic-shaped env value. A second deployment meets a hostile Console that echoes the request's
headers, API key included, in its error body (``tests/servers/echo_console.py``), so that the key
reaches error text, task events, saga steps and the result. Every command's stdout and stderr,
every file under the home and every column of every table of every SQLite file are then searched.

One place keeps the request's own secrets on purpose: ``tasks.task_json`` of ``state.db`` holds
the task payload a resumed task is run from (a provider needs the env and the registry login), in
a file only its owner may read. The API key and the registry key come from the environment and
appear nowhere at all.
"""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path
from typing import Any

from tests.deploy.conftest import Run, Sandbox, web_request, write_request
from tests.servers.echo_console import echo_console

API_KEY = "console-planted-key-5e1f9a2c7b"
REGISTRY_KEY = "4f3edf983ac636a65a842ce7c78d9aa706d3b113bce9c46f30d7d21715b23b1d"
ENV_SECRET = "env-planted-secret-8d2c4b6a"
REGISTRY_PASSWORD = "regpass-planted-3a7e9c1f"
MNEMONIC = "legal winner thank year wave sausage worth useful legal winner thank yellow"

FROM_ENVIRONMENT = (API_KEY, REGISTRY_KEY)
IN_PAYLOAD = (ENV_SECRET, REGISTRY_PASSWORD, MNEMONIC)


def planted_request() -> dict[str, Any]:
    request = web_request("secretive")
    service = request["infra_spec"]["services"][0]
    service["image"] = "ghcr.io/acme/web:1.0"
    service["env"] = {"DB_PASSWORD": ENV_SECRET, "SEED_WORDS": MNEMONIC}
    service["credentials"] = {
        "host": "ghcr.io",
        "username": "deployer",
        "password": REGISTRY_PASSWORD,
    }
    request["network"] = "console"
    return request


def sqlite_cells(path: Path) -> list[tuple[str, str, str]]:
    """``(table, column, text)`` of every cell of every table of an SQLite file."""
    cells: list[tuple[str, str, str]] = []
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            cursor = conn.execute(f'SELECT * FROM "{table}"')
            columns = [d[0] for d in cursor.description]
            for row in cursor.fetchall():
                cells.extend((table, c, repr(v)) for c, v in zip(columns, row, strict=True))
    return cells


def is_sqlite(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(16) == b"SQLite format 3\x00"


def test_planted_secrets_reach_no_output_file_or_table(
    cli: Any, sandbox: Sandbox, tmp_path: Path, clean_environ: Path
) -> None:
    clean_environ.mkdir(mode=0o755)  # a home made by someone else, readable by all
    sandbox.add_api_key(API_KEY)
    env = {
        "MINDS371_CONSOLE_URL": sandbox.url,
        "MINDS371_CONSOLE_API_KEY": API_KEY,
        "MINDS371_REGISTRY_KEY": REGISTRY_KEY,
    }

    def run(*args: str) -> Run:
        done: Run = cli("--log-level", "DEBUG", *args, extra_env=env)
        outputs.append(done.out + done.err)
        return done

    outputs: list[str] = []
    deployed = run("deploy", str(write_request(tmp_path, planted_request())), "--json")
    assert deployed.code == 0, deployed.err
    dseq = deployed.json()["dseq"]
    for command in ("status", "logs", "events"):
        assert run(command, dseq, "--network", "console", "--json").code == 0, command
    assert run("discover", "secretive", "--json").code == 0
    assert run("registry", "history", "secretive", "--json").code == 0
    assert run("registry", "verify", "--json").code == 0
    assert run("close", dseq, "--network", "console", "--json").code == 0

    with echo_console() as (echo_url, _):
        env["MINDS371_CONSOLE_URL"] = echo_url
        echoed = run("deploy", str(write_request(tmp_path, planted_request())), "--json")
        assert echoed.code == 1 and "you sent" in echoed.out, echoed.err
        assert "x-api-key: ***" in echoed.out  # the echo came back, scrubbed
    assert "DEBUG" in "".join(outputs).upper()  # the debug log lines were searched too

    for secret in (*FROM_ENVIRONMENT, *IN_PAYLOAD):
        assert not [o for o in outputs if secret in o], secret

    files = [p for p in clean_environ.rglob("*") if p.is_file()]
    assert any(p.name == "state.db" for p in files)
    for path in files:
        data = path.read_bytes()
        for secret in FROM_ENVIRONMENT:
            assert secret.encode() not in data, (secret, path)
        if path.name.startswith("state.db"):
            continue  # the payload's own copy, checked cell by cell below
        for secret in IN_PAYLOAD:
            assert secret.encode() not in data, (secret, path)
    for path in (p for p in files if is_sqlite(p)):
        for table, column, text in sqlite_cells(path):
            for secret in (*FROM_ENVIRONMENT, *IN_PAYLOAD):
                if secret in text:
                    assert (path.name, table, column) == ("state.db", "tasks", "task_json")
                    assert secret in IN_PAYLOAD

    # Private whatever the home's own mode: files 0600 (scripts 0700), folders 0700.
    for path in clean_environ.rglob("*"):
        mode = stat.S_IMODE(path.stat().st_mode)
        if path.is_dir():
            assert mode == 0o700, (path, oct(mode))
        elif path.suffix == ".sh":
            assert mode == 0o700, (path, oct(mode))
        else:
            assert mode == 0o600, (path, oct(mode))
