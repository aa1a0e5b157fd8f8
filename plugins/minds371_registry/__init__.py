"""minds371_registry: signed deployment records, IPFS metadata and service discovery.

``BlockchainRegistryProvider.default()`` gives the embedded registry (SQLite ledger, local content
store, key from the environment or a development key); compose ``LocalLedger``/``EvmLedger`` and
``LocalContentStore``/``KuboContentStore`` for anything else.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from minds371_registry._plugin import plugin

if TYPE_CHECKING:
    from minds371_registry.content import ContentStore, KuboContentStore, LocalContentStore, cid_of
    from minds371_registry.discovery import EndpointHealth, HealthChecker, ProbeRoute
    from minds371_registry.head import LedgerHead
    from minds371_registry.keys import RecordSigner, load_signer
    from minds371_registry.ledger import Ledger, LedgerEntry, LocalLedger
    from minds371_registry.ledger.evm import EvmLedger, deploy_registry_contract
    from minds371_registry.models import RegistryReceipt, ServiceRecord, VerifyReport
    from minds371_registry.provider import BlockchainRegistryProvider
    from minds371_registry.records import (
        DeploymentFacts,
        DeploymentRecord,
        RecordDomain,
        record_digest,
        verify_record,
    )
    from minds371_registry.seen import SeenSequences

__all__ = [
    "BlockchainRegistryProvider",
    "ContentStore",
    "DeploymentFacts",
    "DeploymentRecord",
    "EndpointHealth",
    "EvmLedger",
    "HealthChecker",
    "KuboContentStore",
    "Ledger",
    "LedgerEntry",
    "LedgerHead",
    "LocalContentStore",
    "LocalLedger",
    "ProbeRoute",
    "RecordDomain",
    "RecordSigner",
    "RegistryReceipt",
    "SeenSequences",
    "ServiceRecord",
    "VerifyReport",
    "cid_of",
    "deploy_registry_contract",
    "load_signer",
    "plugin",
    "record_digest",
    "verify_record",
]

# Loaded on first use: discovering the plugin must not import eth-account (about 0.6 s).
_WHERE = {
    "BlockchainRegistryProvider": "minds371_registry.provider",
    "ContentStore": "minds371_registry.content",
    "DeploymentFacts": "minds371_registry.records",
    "DeploymentRecord": "minds371_registry.records",
    "EndpointHealth": "minds371_registry.discovery",
    "EvmLedger": "minds371_registry.ledger.evm",
    "HealthChecker": "minds371_registry.discovery",
    "KuboContentStore": "minds371_registry.content",
    "Ledger": "minds371_registry.ledger",
    "LedgerEntry": "minds371_registry.ledger",
    "LedgerHead": "minds371_registry.head",
    "LocalContentStore": "minds371_registry.content",
    "LocalLedger": "minds371_registry.ledger",
    "ProbeRoute": "minds371_registry.discovery",
    "RecordDomain": "minds371_registry.records",
    "RecordSigner": "minds371_registry.keys",
    "RegistryReceipt": "minds371_registry.models",
    "SeenSequences": "minds371_registry.seen",
    "ServiceRecord": "minds371_registry.models",
    "VerifyReport": "minds371_registry.models",
    "cid_of": "minds371_registry.content",
    "deploy_registry_contract": "minds371_registry.ledger.evm",
    "load_signer": "minds371_registry.keys",
    "record_digest": "minds371_registry.records",
    "verify_record": "minds371_registry.records",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'minds371_registry' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
