"""The registry's configuration from the environment: read here, at the edge, and nowhere else.

==================================  ==========================================================
``MINDS371_HOME``                   state directory (ledger, content, dev key under ``registry/``)
``MINDS371_REGISTRY_KEY``           hex private key that signs records
``MINDS371_REGISTRY_KEYSTORE``      eth-account keystore file (with ``..._KEYSTORE_PASSWORD``)
``MINDS371_REGISTRY_TRUSTED``       comma-separated addresses whose records are believed
``MINDS371_REGISTRY_RPC_URL``       EVM JSON-RPC endpoint: use the EVM ledger instead of SQLite
``MINDS371_REGISTRY_CONTRACT``      the ``Minds371Registry`` address (with the RPC URL)
``MINDS371_REGISTRY_FROM_BLOCK``    the block the contract was deployed in (default 0)
``MINDS371_IPFS_API``               Kubo RPC address: use an IPFS node instead of local files
``MINDS371_SANDBOX_URL``            a served sandbox: probes of ``*.sandbox.test`` go there
``MINDS371_PROBE_PRIVATE``          ``1``: discovery also probes loopback and private addresses
==================================  ==========================================================
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from eth_utils.address import to_checksum_address

from minds371.config import home as default_home
from minds371.errors import ConfigurationError
from minds371_registry.content import ContentStore, KuboContentStore, LocalContentStore
from minds371_registry.discovery import ProbeRoute
from minds371_registry.keys import configured_address, load_signer
from minds371_registry.ledger import Ledger, LocalLedger
from minds371_registry.seen import SeenSequences

__all__ = [
    "CONTRACT_ENV",
    "FROM_BLOCK_ENV",
    "IPFS_API_ENV",
    "RPC_URL_ENV",
    "TRUSTED_ENV",
    "SANDBOX_INGRESS_SUFFIX",
    "PROBE_PRIVATE_ENV",
    "build_default",
    "probe_private",
    "probe_routes",
    "trusted_from_env",
]

TRUSTED_ENV = "MINDS371_REGISTRY_TRUSTED"
RPC_URL_ENV = "MINDS371_REGISTRY_RPC_URL"
CONTRACT_ENV = "MINDS371_REGISTRY_CONTRACT"
FROM_BLOCK_ENV = "MINDS371_REGISTRY_FROM_BLOCK"
IPFS_API_ENV = "MINDS371_IPFS_API"
SANDBOX_URL_ENV = "MINDS371_SANDBOX_URL"
PROBE_PRIVATE_ENV = "MINDS371_PROBE_PRIVATE"
#: The domain under which the local sandbox's providers name their ingress hosts.
SANDBOX_INGRESS_SUFFIX = ".sandbox.test"
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")


def trusted_from_env(env: Mapping[str, str]) -> list[str]:
    """The addresses of ``MINDS371_REGISTRY_TRUSTED``.

    Raises:
        ConfigurationError: naming any entry that is not an address.
    """
    out: list[str] = []
    for item in env.get(TRUSTED_ENV, "").split(","):
        item = item.strip()
        if not item:
            continue
        if not _ADDRESS.match(item):
            raise ConfigurationError(f"{TRUSTED_ENV}: {item!r} is not a 0x-prefixed address")
        out.append(to_checksum_address(item))
    return out


def build_default(
    *,
    home: Path | None = None,
    environ: Mapping[str, str] | None = None,
    read_only: bool = False,
) -> dict[str, Any]:
    """The keyword arguments of ``BlockchainRegistryProvider`` for this environment."""
    env = os.environ if environ is None else environ
    root = home if home is not None else default_home()
    signer = load_signer(root, environ=env, create=not read_only)
    trusted = trusted_from_env(env)
    if signer is None and (address := configured_address(root, environ=env)):
        trusted.append(address)
    content: ContentStore
    if api := env.get(IPFS_API_ENV, "").strip():
        content = KuboContentStore(api)
    else:
        content = LocalContentStore(root / "registry" / "content")
    ledger: Ledger
    if rpc_url := env.get(RPC_URL_ENV, "").strip():
        ledger = _evm_ledger(rpc_url, env, content, signer)
    else:
        ledger = LocalLedger(root / "registry" / "ledger.sqlite3")
    return {
        "ledger": ledger,
        "content": content,
        "signer": signer,
        "trusted_signers": trusted,
        "seen": SeenSequences(root / "registry" / "seen.json"),
    }


def probe_routes(env: Mapping[str, str] | None = None) -> list[ProbeRoute]:
    """Probe routes from the environment: a served sandbox answers for its ingress hosts."""
    env = os.environ if env is None else env
    url = env.get(SANDBOX_URL_ENV, "").strip()
    return [ProbeRoute(SANDBOX_INGRESS_SUFFIX, url)] if url else []


def probe_private(env: Mapping[str, str] | None = None) -> bool:
    """Whether discovery may probe loopback and private addresses (``MINDS371_PROBE_PRIVATE``).

    Raises:
        ConfigurationError: if the variable is set to something other than 0/1, true/false.
    """
    env = os.environ if env is None else env
    value = env.get(PROBE_PRIVATE_ENV, "").strip().lower()
    if value in ("", "0", "false", "no"):
        return False
    if value in ("1", "true", "yes"):
        return True
    raise ConfigurationError(f"{PROBE_PRIVATE_ENV} must be 1 or 0, not {value!r}")


def _evm_ledger(rpc_url: str, env: Mapping[str, str], content: ContentStore, signer: Any) -> Ledger:
    from minds371_registry.ledger.evm import EvmLedger

    contract = env.get(CONTRACT_ENV, "").strip()
    if not _ADDRESS.match(contract):
        raise ConfigurationError(
            f"{RPC_URL_ENV} is set, so {CONTRACT_ENV} must be the registry contract's address"
        )
    try:
        from_block = int(env.get(FROM_BLOCK_ENV, "0") or "0")
    except ValueError:
        raise ConfigurationError(f"{FROM_BLOCK_ENV} must be a block number") from None
    return EvmLedger(rpc_url, contract, content=content, signer=signer, from_block=from_block)
