"""The CLI backend's process handling: failures classified from what the binaries print."""

from __future__ import annotations

from pathlib import Path

import pytest

from minds371.errors import (
    ConfigurationError,
    InsufficientFunds,
    LeaseError,
    ManifestRejected,
    MarketError,
)
from minds371_akash.market import CliBackend, CliConfig, NotFound
from minds371_akash.market._process import CommandResult, classify_failure, run_command


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
