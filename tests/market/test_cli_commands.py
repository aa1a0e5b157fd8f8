"""``minds371 bids|status|logs|events|close`` against the sandbox kept in MINDS371_HOME."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import anyio
import pytest
import structlog

from minds371.cli import main
from minds371_akash import AkashIntegrationProvider, BidPolicy
from minds371_akash.networks import open_backend

from .conftest import sdl


@pytest.fixture(autouse=True)
def _keep_logging(monkeypatch: pytest.MonkeyPatch) -> None:
    # main() configures structlog with cache_logger_on_first_use and capsys's stderr; module-level
    # loggers would keep that (soon closed) stream for the rest of the test run.
    def quiet(*args: object, **kwargs: object) -> None:
        structlog.configure(
            wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
            logger_factory=structlog.PrintLoggerFactory(file=sys.__stderr__),
            cache_logger_on_first_use=False,
        )

    monkeypatch.setattr("minds371.cli.configure_cli_logging", quiet)


def _deploy(home: Path) -> int:
    state = home / "sandbox" / "world.json"
    state.parent.mkdir(parents=True, exist_ok=True)

    async def run() -> int:
        async with open_backend("sandbox", sandbox_state=state, sandbox_block=0.05) as backend:
            akash = AkashIntegrationProvider(backend, policy=BidPolicy(enough_bids=2))
            result = await akash.deploy(sdl("web"))
            await anyio.sleep(0.3)  # a few log lines
            return result.dseq

    return anyio.run(run)


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> object:
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_commands_on_a_persisted_sandbox(clean_environ: Path, capsys: pytest.CaptureFixture[str]):
    dseq = str(_deploy(clean_environ))
    capsys.readouterr()  # drop what deploying printed
    status = _json(capsys, ["status", dseq, "--json"])
    assert isinstance(status, dict)
    assert status["dseq"] == dseq and status["state"] == "active"
    assert status["endpoints"][0]["service"] == "web"

    bids = _json(capsys, ["bids", dseq, "--json"])
    assert isinstance(bids, list) and bids
    assert {b["state"] for b in bids} >= {"active"}

    events = _json(capsys, ["events", dseq, "--json"])
    assert isinstance(events, list) and any(e["reason"] == "Started" for e in events)

    logs = _json(capsys, ["logs", dseq, "--tail", "3", "--json"])
    assert isinstance(logs, list) and logs and all("message" in line for line in logs)

    assert main(["status", dseq]) == 0
    human = capsys.readouterr()
    assert human.out == "" and f"deployment {dseq}: active" in human.err

    closed = _json(capsys, ["close", dseq, "--json"])
    assert closed == {
        "dseq": dseq,
        "closed": True,
        "replicas_closed": [],
        "replicas_not_closed": {},
        "retired": [],  # nothing was registered
        "journaled": False,
    }
    after = _json(capsys, ["status", dseq, "--json"])
    assert isinstance(after, dict) and after["state"] == "closed"


@pytest.mark.parametrize("bad", ["abc", "-5", "1" * 30, "1.5"])
def test_bad_dseq_is_exit_2_naming_the_field(bad: str, capsys: pytest.CaptureFixture[str]):
    assert main(["status", bad]) == 2
    err = capsys.readouterr().err
    assert "/dseq" in err and "Traceback" not in err


def test_unknown_deployment_is_exit_1(capsys: pytest.CaptureFixture[str]):
    assert main(["status", "12345", "--json"]) == 1
    captured = capsys.readouterr()
    document = json.loads(captured.out)  # with --json, failures are one JSON document too
    assert document["status"] == "failed" and document["error"]["type"] == "NotFound"
    assert "not found" in captured.err.lower()
    assert "/v1/deployments" not in captured.err  # said in words, not as an HTTP line
    assert "minds371 list --all" in captured.err


def test_unknown_network_is_a_usage_error(capsys: pytest.CaptureFixture[str]):
    assert main(["status", "1", "--network", "mainnet"]) == 2


def test_console_without_a_key_says_which_variable(capsys: pytest.CaptureFixture[str]):
    assert main(["status", "1", "--network", "console"]) == 2
    assert "MINDS371_CONSOLE_API_KEY" in capsys.readouterr().err


def test_cli_network_without_binaries_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    monkeypatch.setenv("MINDS371_AKASH_BIN", str(tmp_path / "no-akash-here"))
    assert main(["bids", "1", "--network", "cli"]) == 2
    err = capsys.readouterr().err
    assert "not found" in err and "Traceback" not in err
