"""`minds371 discover` and `minds371 registry history|verify` on the default home."""

from __future__ import annotations

import json
import logging
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import structlog

import minds371_registry
from minds371.cli import main
from minds371_registry import BlockchainRegistryProvider, LocalContentStore

from .conftest import hits, make_facts, overwrite_block


@pytest.fixture(autouse=True)
def _uncached_logging(monkeypatch: pytest.MonkeyPatch) -> None:
    # main() configures structlog with cache_logger_on_first_use and pytest's captured stderr:
    # module-level loggers would keep that stream, closed after the test, for the whole session.
    def configure(*args: object, **kwargs: object) -> None:
        structlog.configure(
            wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
            logger_factory=structlog.PrintLoggerFactory(file=sys.__stderr__),
            cache_logger_on_first_use=False,
        )

    monkeypatch.setattr("minds371.cli.configure_cli_logging", configure)
    # Only this plugin's commands: these tests are about them, not about other plugins loading.
    monkeypatch.setattr("minds371.cli._plugins", lambda: [minds371_registry.plugin])


async def _register(*facts_list) -> None:
    async with BlockchainRegistryProvider.default() as registry:
        for facts in facts_list:
            await registry.register(facts, {"dseq": facts.dseq})


async def test_discover_json_orders_healthy_first(
    clean_environ: Path,
    capsys,
    http_endpoint: Callable[..., str],
    dead_endpoint: str,
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setenv("MINDS371_PROBE_PRIVATE", "1")  # the test servers are on 127.0.0.1
    up = http_endpoint(200)
    await _register(make_facts(endpoints=(dead_endpoint, up)))
    code, out, _ = await _in_thread(capsys, "discover", "web", "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["name"] == "web" and doc["sequence"] == 1 and doc["healthy"] is True
    assert [e["url"] for e in doc["endpoints"]] == [up, dead_endpoint]


async def test_discover_all_down_exits_1(
    clean_environ: Path, capsys, dead_endpoint: str, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("MINDS371_PROBE_PRIVATE", "1")
    await _register(make_facts(endpoints=(dead_endpoint,)))
    code, out, err = await _in_thread(capsys, "discover", "web")
    assert code == 1
    assert "down" in out and "no endpoint of 'web' answers" in err


async def test_discover_does_not_probe_loopback_unless_configured(
    clean_environ: Path, capsys, http_endpoint: Callable[..., str], monkeypatch: pytest.MonkeyPatch
):
    up = http_endpoint(200)
    await _register(make_facts(endpoints=(up,)))
    code, out, _ = await _in_thread(capsys, "discover", "web", "--json")
    endpoint = json.loads(out)["endpoints"][0]
    assert code == 1 and endpoint["healthy"] is False
    assert "127.0.0.1 is a loopback address" in endpoint["error"] and hits(up) == 0
    monkeypatch.setenv("MINDS371_PROBE_PRIVATE", "1")
    code, out, _ = await _in_thread(capsys, "discover", "web", "--json")
    assert code == 0 and json.loads(out)["healthy"] is True and hits(up) == 1
    monkeypatch.setenv("MINDS371_PROBE_PRIVATE", "perhaps")
    code, _, err = await _in_thread(capsys, "discover", "web")
    assert code == 2 and "MINDS371_PROBE_PRIVATE must be 1 or 0" in err


async def test_history_lists_every_record(clean_environ: Path, capsys):
    await _register(make_facts(dseq=1), make_facts(dseq=2))
    code, out, _ = await _in_thread(capsys, "registry", "history", "web", "--json")
    assert code == 0
    assert [r["dseq"] for r in json.loads(out)["records"]] == [1, 2]
    code, out, _ = await _in_thread(capsys, "registry", "history", "web")
    assert code == 0 and out.count("\n") == 2 and out.startswith("#1 ")


async def test_verify_ok_then_tampered(clean_environ: Path, capsys):
    await _register(make_facts(dseq=1), make_facts("api"), make_facts(dseq=2))
    code, _, err = await _in_thread(capsys, "registry", "verify")
    assert code == 0 and "3 entries, 2 names" in err
    ledger = clean_environ / "registry" / "ledger.sqlite3"
    with sqlite3.connect(ledger, isolation_level=None) as db:
        (body,) = db.execute("SELECT record FROM entries WHERE position = 2").fetchone()
        db.execute(
            "UPDATE entries SET record = ? WHERE position = 2",
            (body.replace('"dseq":1234', '"dseq":666'),),
        )
    code, _, err = await _in_thread(capsys, "registry", "verify")
    assert code == 1 and "failed at entry 2" in err
    code, out, _ = await _in_thread(capsys, "registry", "verify", "--json")
    report = json.loads(out)
    assert (
        code == 1
        and report["ok"] is False
        and report["position"] == 2
        and report["error"] == "LedgerError"
    )


async def test_verify_checks_metadata_by_default(clean_environ: Path, capsys):
    await _register(make_facts())
    async with BlockchainRegistryProvider.default(read_only=True) as registry:
        cid = (await registry.resolve("web")).record.metadata_cid
        store = registry.content
        assert isinstance(store, LocalContentStore)
        overwrite_block(store, cid, b'{"dseq":666}')
    code, _, err = await _in_thread(capsys, "registry", "verify")
    assert code == 1 and "ContentMismatch" in err
    # Skipping the blobs is a choice the output states.
    code, _, err = await _in_thread(capsys, "registry", "verify", "--no-content")
    assert code == 0 and "metadata NOT checked against CIDs (--no-content)" in err
    code, out, _ = await _in_thread(capsys, "registry", "verify", "--no-content", "--json")
    report = json.loads(out)
    assert report["ok"] is True and report["content_checked"] is False
    assert report["head_checked"] is True


async def test_a_retired_name_discovers_as_retired(clean_environ: Path, capsys, dead_endpoint: str):
    await _register(make_facts(endpoints=(dead_endpoint,)))
    async with BlockchainRegistryProvider.default() as registry:
        receipt = await registry.retire("web", dseq=1234, reason="closed")
    assert receipt is not None and receipt.sequence == 2
    code, out, _ = await _in_thread(capsys, "discover", "web")
    assert code == 1 and out.startswith("retired") and dead_endpoint not in out
    code, out, _ = await _in_thread(capsys, "discover", "web", "--json")
    doc = json.loads(out)
    assert code == 1 and doc["status"] == "retired" and doc["endpoints"] == []
    code, out, _ = await _in_thread(capsys, "registry", "history", "web")
    lines = out.splitlines()
    assert code == 0 and len(lines) == 2
    assert dead_endpoint in lines[0] and lines[1].startswith("#2 ") and " retired " in lines[1]
    code, out, _ = await _in_thread(capsys, "registry", "history", "web", "--json")
    assert [r["retired"] for r in json.loads(out)["records"]] == [False, True]


async def test_bad_input_exits_2(clean_environ: Path, capsys):
    code, _, err = await _in_thread(capsys, "discover", "Not A Name")
    assert code == 2 and "/name" in err
    for bad in ("0", "nan", "-1"):
        code, _, err = await _in_thread(capsys, "discover", "web", "--timeout", bad)
        assert code == 2 and "/timeout" in err
    code, _, err = await _in_thread(capsys, "discover", "web", "--timeout", "soon")
    assert code == 2 and "invalid float value" in err


async def test_read_commands_generate_no_key(clean_environ: Path, capsys):
    code, _, err = await _in_thread(capsys, "discover", "web")
    # Said as what it means to a reader: nothing was registered from this home.
    assert code == 1 and "no deployment named 'web' is registered from this home" in err
    assert not (clean_environ / "registry" / "dev-key").exists()


async def _in_thread(capsys, *argv: str) -> tuple[int, str, str]:
    # The CLI runs its own event loop (anyio.run), so it cannot run inside this test's loop.
    import anyio.to_thread

    capsys.readouterr()  # drop what the setup logged (structlog's default prints to stdout)
    code = await anyio.to_thread.run_sync(main, list(argv))
    out, err = capsys.readouterr()
    return code, out, err
