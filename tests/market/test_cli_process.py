"""The CLI backend's process handling: failures classified from what the binaries print."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import anyio
import pytest

from minds371.errors import (
    ConfigurationError,
    InsufficientFunds,
    LeaseError,
    ManifestRejected,
    MarketError,
)
from minds371_akash.market import CliBackend, CliConfig, NotFound
from minds371_akash.market._models import Deployment, Lease, LeaseId, Price
from minds371_akash.market._process import (
    CommandResult,
    JsonStream,
    classify_failure,
    run_command,
)


@pytest.mark.parametrize(
    ("stderr", "expected", "retryable"),
    [
        ("Error: insufficient funds: 10uact < 500000uact", InsufficientFunds, False),
        ("Error: manifest version validation failed", ManifestRejected, False),
        ("Error: no lease for deployment", LeaseError, True),
        ("Error: bid not open", LeaseError, False),
        ("Error: rpc error: deployment not found", NotFound, False),
        ("Error: post failed: connection refused", MarketError, True),
        ("Error: something else", MarketError, False),
    ],
)
def test_failures_are_classified(stderr, expected, retryable):
    error = classify_failure(["akash", "tx", "x"], stderr, code=1)
    assert type(error) is expected
    assert error.retryable is retryable
    assert error.details["stderr"].startswith("Error:")


def test_secrets_in_stderr_are_redacted():
    key = "0x" + "ab" * 32
    error = classify_failure(["akash"], f"Error: bad key {key}", code=1)
    assert key not in error.message


def test_json_after_a_text_line():
    result = CommandResult(("akash",), 0, 'gas estimate: 12345\n{"code": 0}\n', "")
    assert result.json() == {"code": 0}
    with pytest.raises(MarketError, match="no JSON"):
        CommandResult(("akash",), 0, "plain text", "").json()


async def test_missing_binary_is_a_configuration_error(tmp_path: Path):
    with pytest.raises(ConfigurationError, match="not found"):
        await run_command([str(tmp_path / "nope")])


async def test_slow_binary_times_out_as_retryable(tmp_path: Path):
    slow = tmp_path / "slow"
    slow.write_text("#!/bin/sh\nsleep 5\n")
    slow.chmod(0o755)
    with pytest.raises(MarketError) as info:
        await run_command([str(slow)], deadline=0.3)
    assert info.value.retryable and info.value.details["ambiguous"]


async def test_failing_transaction_surfaces_the_chain_message(tmp_path: Path):
    akash = tmp_path / "akash"
    akash.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = keys ]; then echo akash1owner; exit 0; fi\n'
        'echo \'{"code": 5, "raw_log": "insufficient funds: deposit too low"}\'\n'
    )
    akash.chmod(0o755)
    async with CliBackend(CliConfig(akash=str(akash), tx_flags=())) as backend:
        assert await backend.owner() == "akash1owner"
        with pytest.raises(InsufficientFunds, match="deposit too low"):
            await backend.close_deployment(5)


def test_dseqs_strictly_increase():
    seen = [CliBackend._next_dseq() for _ in range(1000)]
    assert seen == sorted(set(seen))


def test_config_from_environment(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MINDS371_AKASH_KEY", "deployer")
    monkeypatch.setenv("AKASH_NODE", "http://127.0.0.1:26657")
    config = CliConfig.from_env(timeout=5)
    assert (config.key_name, config.node, config.timeout) == (
        "deployer",
        "http://127.0.0.1:26657",
        5,
    )


@pytest.mark.parametrize(
    ("text", "expected", "retryable"),
    [
        # send-manifest in sync mode before the lease is on chain (helpers.go errNoActiveLease)
        ("Error: no active leases found for dseq=12", LeaseError, True),
        # a tx while another from the account is pending (cosmos-sdk ante handler)
        (
            '{"code": 32, "raw_log": "account sequence mismatch, expected 5, got 4: '
            'incorrect account sequence"}',
            MarketError,
            True,
        ),
    ],
)
def test_sync_broadcast_failures_are_retryable(text, expected, retryable):
    error = classify_failure(["provider-services", "send-manifest"], text, code=1)
    assert type(error) is expected
    assert error.retryable is retryable


def test_missing_certificate_says_how_to_make_one():
    text = (
        'Error: no certificate file found for account "akash1o".\n'
        "consider creating it as certificate required to submit manifest"
    )
    error = classify_failure(["akash", "tx", "deployment", "create"], text, code=1)
    assert not error.retryable
    assert "akash tx cert generate client" in error.message
    assert "akash tx cert publish client" in error.message


def test_indented_json_values_split_anywhere_are_read_back():
    entries = [
        {"name": "web-0", "message": "GET / 200", "lease_id": {"gseq": 1}},
        {"name": "web-0", "message": "{not json} [brackets]", "lease_id": {"gseq": 1}},
    ]
    printed = "".join(json.dumps(e, indent=2) + "\n" for e in entries)
    printed = "a warning line first\n" + printed
    for size in (1, 7, len(printed)):
        stream = JsonStream()
        found = []
        for at in range(0, len(printed), size):
            found += stream.feed(printed[at : at + size])
        found += stream.close()
        assert found == entries, size


def test_indented_json_after_a_text_line():
    result = CommandResult(("akash",), 0, 'warning: volumes\n{\n  "code": 0\n}\n', "")
    assert result.json() == {"code": 0}


async def test_transactions_of_one_key_go_out_one_at_a_time_in_block_mode(tmp_path: Path):
    log = tmp_path / "calls.log"
    akash = tmp_path / "akash"
    akash.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = keys ]; then echo akash1owner; exit 0; fi\n'
        f'echo "start $*" >> {log}\n'
        "sleep 0.3\n"
        f'echo "end" >> {log}\n'
        'echo \'{"code": 0, "txhash": "AB"}\'\n'
    )
    akash.chmod(0o755)
    async with CliBackend(CliConfig(akash=str(akash), tx_flags=("--broadcast-mode", "sync"))) as b:
        async with anyio.create_task_group() as tg:
            for dseq in (1, 2, 3):
                tg.start_soon(b.close_deployment, dseq)
    lines = log.read_text().splitlines()
    assert [line.split()[0] for line in lines] == ["start", "end"] * 3  # never two at once
    for line in lines[::2]:
        argv = line.split()
        # block mode, after (and so winning over) whatever tx_flags say
        assert argv[argv.index("sync") + 1 :].count("--broadcast-mode") == 1
        assert argv[argv.index("--broadcast-mode", argv.index("sync")) + 1] == "block"


def test_a_reclaiming_lease_is_still_running():
    lease_id = LeaseId(owner="akash1o", dseq=1, gseq=1, oseq=1, provider="akash1p")
    price = Price(denom="uact", amount=Decimal(1))
    reclaiming = Lease(id=lease_id, state="reclaiming", price=price)
    closed = Lease(id=lease_id.model_copy(update={"gseq": 2}), state="closed", price=price)
    assert reclaiming.active and not closed.active
    deployment = Deployment(owner="akash1o", dseq=1, state="active", leases=(reclaiming, closed))
    assert deployment.active_leases == (reclaiming,)
