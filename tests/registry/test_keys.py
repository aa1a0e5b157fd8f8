from __future__ import annotations

import json
import stat
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from eth_account import Account
from structlog.testing import capture_logs

from minds371.errors import ConfigurationError
from minds371_registry import RecordSigner, load_signer
from minds371_registry.keys import DEV_KEY_FILE, configured_address


def test_key_from_environment(clean_environ: Path):
    account = Account.create()
    signer = load_signer(clean_environ, environ={"MINDS371_REGISTRY_KEY": account.key.hex()})
    assert signer is not None and signer.address == account.address
    assert not (clean_environ / DEV_KEY_FILE).exists()


def test_key_from_keystore(clean_environ: Path, tmp_path: Path):
    account = Account.create()
    keystore = tmp_path / "key.json"
    keystore.write_text(json.dumps(Account.encrypt(account.key, "pw", kdf="pbkdf2", iterations=2)))
    env = {"MINDS371_REGISTRY_KEYSTORE": str(keystore), "MINDS371_REGISTRY_KEYSTORE_PASSWORD": "pw"}
    signer = load_signer(clean_environ, environ=env)
    assert signer is not None and signer.address == account.address
    # The address is readable without the password.
    assert (
        configured_address(clean_environ, environ={"MINDS371_REGISTRY_KEYSTORE": str(keystore)})
        == account.address
    )


def test_wrong_keystore_password_is_a_configuration_error(clean_environ: Path, tmp_path: Path):
    account = Account.create()
    keystore = tmp_path / "key.json"
    keystore.write_text(json.dumps(Account.encrypt(account.key, "pw", kdf="pbkdf2", iterations=2)))
    env = {
        "MINDS371_REGISTRY_KEYSTORE": str(keystore),
        "MINDS371_REGISTRY_KEYSTORE_PASSWORD": "nope",
    }
    with pytest.raises(ConfigurationError, match="cannot unlock"):
        load_signer(clean_environ, environ=env)


def test_dev_key_is_generated_once_with_a_warning(clean_environ: Path):
    with capture_logs() as logs:
        first = load_signer(clean_environ, environ={})
    assert first is not None
    path = clean_environ / DEV_KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    warnings = [e for e in logs if e["log_level"] == "warning"]
    assert [e["event"] for e in warnings] == ["minds371.registry.dev_key_generated"]
    key_hex = path.read_text().strip().removeprefix("0x")
    assert key_hex not in json.dumps(logs, default=str)
    again = load_signer(clean_environ, environ={})
    assert again is not None and again.address == first.address


def test_read_only_loading_creates_no_key(clean_environ: Path):
    assert load_signer(clean_environ, environ={}, create=False) is None
    assert configured_address(clean_environ, environ={}) is None


def test_bad_key_error_does_not_carry_the_key(clean_environ: Path):
    bad = "0x" + "zz" * 32
    with pytest.raises(ConfigurationError) as info:
        RecordSigner(bad)
    assert "zz" * 8 not in str(info.value)
    assert info.value.__cause__ is None


def test_processes_starting_at_once_share_one_dev_key(tmp_path: Path):
    # Threads stand in for processes: key generation and the file calls release the GIL, so
    # the creators really race for the file.
    for round in range(10):
        home = tmp_path / str(round)
        start = threading.Barrier(8)

        def load(home: Path = home, start: threading.Barrier = start) -> str:
            start.wait()
            signer = load_signer(home, environ={})
            assert signer is not None
            return signer.address

        with ThreadPoolExecutor(8) as pool:
            addresses = set(pool.map(lambda _: load(), range(8)))
        assert len(addresses) == 1
        # no temporary file left behind, and the key file is whole
        assert [p.name for p in (home / DEV_KEY_FILE).parent.iterdir()] == [DEV_KEY_FILE.name]
        assert load_signer(home, environ={}, create=False).address in addresses  # type: ignore[union-attr]


def test_generated_keys_are_fresh_and_eth_account_derives_the_same_address():
    first, second = RecordSigner.generate(), RecordSigner.generate()
    assert first.address != second.address
    # The address the ledger's transactions are signed with is the records' signer.
    assert first.eth_account().address == first.address
    recovered = Account._recover_hash(b"\x11" * 32, signature=first.sign_digest(b"\x11" * 32))
    assert recovered == first.address


def test_signing_records_does_not_load_eth_account():
    # eth-account pulls in eth-keyfile and py_ecc's BLS tables at import (a third of a second
    # of every command's start): only keystores and the EVM ledger may load it.
    code = (
        "import sys, minds371_deploy.agent\n"
        "from minds371_registry import RecordSigner\n"
        "RecordSigner.generate().sign_digest(bytes(32))\n"
        "print(sorted(m for m in ('eth_account', 'eth_keyfile', 'py_ecc') if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]", out.stdout
