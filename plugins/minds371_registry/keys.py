"""Signing keys for registry records: where they come from and how records get signed.

A :class:`RecordSigner` holds one secp256k1 key and never shows it: not in ``repr``, not in logs
(the key is registered with :func:`minds371.logging.register_secret` as it is loaded), not in
errors. :func:`load_signer` looks in this order:

1. ``MINDS371_REGISTRY_KEY``: a hex private key;
2. ``MINDS371_REGISTRY_KEYSTORE``: an eth-account encrypted JSON keystore, unlocked with
   ``MINDS371_REGISTRY_KEYSTORE_PASSWORD``;
3. ``$MINDS371_HOME/registry/dev-key``: a development key, generated on first use with a warning.
   It is stored unencrypted (mode 0600): use it for local work only.

eth-account is imported only where it is used (a keystore, the EVM ledger's transactions): it
loads eth-keyfile and py_ecc's BLS tables at import, a third of a second of CPU that every
command and worker signing records would otherwise pay on start. Signing uses coincurve.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import coincurve
from eth_keys.datatypes import PrivateKey
from eth_utils.address import to_checksum_address

from minds371.config import private_dir
from minds371.errors import ConfigurationError
from minds371.logging import get_logger, register_secret
from minds371_registry.records import (
    DeploymentFacts,
    DeploymentRecord,
    RecordDomain,
    record_digest,
)

__all__ = [
    "DEV_KEY_FILE",
    "KEY_ENV",
    "KEYSTORE_ENV",
    "KEYSTORE_PASSWORD_ENV",
    "RecordSigner",
    "configured_address",
    "load_signer",
]

KEY_ENV = "MINDS371_REGISTRY_KEY"
KEYSTORE_ENV = "MINDS371_REGISTRY_KEYSTORE"
KEYSTORE_PASSWORD_ENV = "MINDS371_REGISTRY_KEYSTORE_PASSWORD"
DEV_KEY_FILE = Path("registry") / "dev-key"

_log = get_logger("minds371.registry.keys")
_PLACEHOLDER_SIGNATURE = "0x" + "00" * 65


class RecordSigner:
    """Signs deployment records with one private key, which it never reveals.

    Args:
        private_key: 32 bytes, or 64 hex digits with or without ``0x``.

    Raises:
        ConfigurationError: if the key is not a valid secp256k1 private key.
    """

    __slots__ = ("_address", "_key", "_signing")

    def __init__(self, private_key: bytes | str) -> None:
        try:
            raw = (
                bytes.fromhex(private_key.strip().removeprefix("0x"))
                if isinstance(private_key, str)
                else bytes(private_key)
            )
            self._key = PrivateKey(raw)
            # The same key as libsecp256k1 holds it, made once: eth-keys makes one per signature.
            self._signing = coincurve.PrivateKey(raw)
        except (
            Exception
        ):  # eth-keys raises several types; `from None` keeps the key out of tracebacks
            raise ConfigurationError(
                "the registry signing key is not a 32-byte secp256k1 private key"
            ) from None
        register_secret("0x" + raw.hex())
        register_secret(raw.hex())
        self._address = str(self._key.public_key.to_checksum_address())

    @classmethod
    def generate(cls) -> RecordSigner:
        """A signer with a fresh random key (from the OS's random source, as coincurve draws it)."""
        return cls(coincurve.PrivateKey().secret)

    @property
    def address(self) -> str:
        """The signer's checksummed Ethereum address."""
        return self._address

    def __repr__(self) -> str:
        return f"RecordSigner(address={self._address})"

    def sign_digest(self, digest: bytes) -> str:
        """Sign a 32-byte digest; return ``0x``-hex ``r || s || v`` with ``v`` 27 or 28."""
        # What eth-keys' coincurve backend signs (RFC 6979 nonce, low s), without its wrapping:
        # ``r || s || recovery id`` (0 or 1), the id made Ethereum's ``v`` by adding 27.
        raw = self._signing.sign_recoverable(digest, hasher=None)
        return "0x" + raw[:64].hex() + bytes([raw[64] + 27]).hex()

    def sign_record(
        self,
        facts: DeploymentFacts,
        *,
        sequence: int,
        prev_hash: str,
        metadata_cid: str,
        domain: RecordDomain,
        issued_at: int | None = None,
        retired: bool = False,
    ) -> DeploymentRecord:
        """Build and sign the record of ``facts`` as the name's ``sequence``-th record.

        With ``retired``, the record is a tombstone (``facts`` must list no providers and no
        endpoints).
        """
        issued = int(time.time()) if issued_at is None else issued_at
        unsigned = DeploymentRecord(
            name=facts.name,
            sequence=sequence,
            prev_hash=prev_hash,
            owner=facts.owner,
            dseq=facts.dseq,
            network=facts.network,
            providers=facts.providers,
            endpoints=facts.endpoints,
            manifest_hash=facts.manifest_hash,
            metadata_cid=metadata_cid,
            issued_at=issued,
            expires_at=facts.expiry(issued),
            retired=retired,
            signer=self._address,
            signature=_PLACEHOLDER_SIGNATURE,
        )
        signature = self.sign_digest(record_digest(unsigned, domain))
        return unsigned.model_copy(update={"signature": signature})

    def eth_account(self) -> Any:
        """The key as an eth-account ``LocalAccount`` (to sign ledger transactions)."""
        from eth_account import Account  # imported here: see the module docs

        return Account.from_key(self._key.to_bytes())


def load_signer(
    home: Path, *, environ: Mapping[str, str] | None = None, create: bool = True
) -> RecordSigner | None:
    """Load the registry's signing key (see the module docs for where it looks).

    Args:
        home: The state directory (``minds371.config.home()``).
        environ: The environment to read (default ``os.environ``).
        create: Generate the development key if no key is configured and none exists yet.

    Returns:
        The signer, or None if no key is configured and ``create`` is false.

    Raises:
        ConfigurationError: if a configured key or keystore cannot be used.
    """
    env = os.environ if environ is None else environ
    if key := env.get(KEY_ENV, "").strip():
        register_secret(key)
        return RecordSigner(key)
    if keystore := env.get(KEYSTORE_ENV, "").strip():
        return _from_keystore(Path(keystore).expanduser(), env.get(KEYSTORE_PASSWORD_ENV, ""))
    path = home / DEV_KEY_FILE
    if path.exists():
        return RecordSigner(path.read_text().strip())
    if not create:
        return None
    signer = RecordSigner.generate()
    private_dir(path.parent)
    # Written whole to a private temporary file, then linked into place: the key file appears
    # complete or not at all, and when several processes start at once exactly one key wins.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".dev-key-")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(signer._key.to_hex() + "\n")
        try:
            os.link(tmp, path)
        except FileExistsError:
            return RecordSigner(path.read_text().strip())
    finally:
        os.unlink(tmp)
    _log.warning(
        "minds371.registry.dev_key_generated",
        address=signer.address,
        path=str(path),
        hint=f"for real use set {KEY_ENV} or {KEYSTORE_ENV}",
        say=(
            f"no registry signing key is configured, so a development key was made at {path} "
            f"(address {signer.address}); for real use set {KEY_ENV} or {KEYSTORE_ENV}"
        ),
    )
    return signer


def configured_address(home: Path, *, environ: Mapping[str, str] | None = None) -> str | None:
    """The address of the configured key without unlocking it (None if there is no key yet)."""
    env = os.environ if environ is None else environ
    if env.get(KEY_ENV, "").strip():
        signer = load_signer(home, environ=env, create=False)
        return signer.address if signer else None
    if keystore := env.get(KEYSTORE_ENV, "").strip():
        document = _read_keystore(Path(keystore).expanduser())
        address = document.get("address")
        if isinstance(address, str) and len(address.removeprefix("0x")) == 40:
            return str(to_checksum_address("0x" + address.removeprefix("0x")))
        signer = load_signer(home, environ=env, create=False)
        return signer.address if signer else None
    path = home / DEV_KEY_FILE
    return RecordSigner(path.read_text().strip()).address if path.exists() else None


def _read_keystore(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"cannot read the registry keystore {path}: {exc}") from exc
    if not isinstance(document, dict):
        raise ConfigurationError(f"the registry keystore {path} is not a keystore JSON object")
    return document


def _from_keystore(path: Path, password: str) -> RecordSigner:
    document = _read_keystore(path)
    if password:
        register_secret(password)
    from eth_account import Account  # imported here: see the module docs

    try:
        key = Account.decrypt(document, password)
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigurationError(
            f"cannot unlock the registry keystore {path}: wrong password in "
            f"{KEYSTORE_PASSWORD_ENV} or not an eth-account keystore ({type(exc).__name__})"
        ) from None
    return RecordSigner(bytes(key))
