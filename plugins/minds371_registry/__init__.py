"""minds371_registry: signed deployment records, IPFS metadata and service discovery.

``BlockchainRegistryProvider.default()`` gives the embedded registry (SQLite ledger, local content
store, key from the environment or a development key); compose ``LocalLedger``/``EvmLedger`` and
``LocalContentStore``/``KuboContentStore`` for anything else.
"""

from minds371_registry._plugin import plugin
from minds371_registry.content import ContentStore, KuboContentStore, LocalContentStore, cid_of
from minds371_registry.discovery import EndpointHealth, HealthChecker, ProbeRoute
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
    "LocalContentStore",
    "LocalLedger",
    "ProbeRoute",
    "RecordDomain",
    "RecordSigner",
    "RegistryReceipt",
    "ServiceRecord",
    "VerifyReport",
    "cid_of",
    "deploy_registry_contract",
    "load_signer",
    "plugin",
    "record_digest",
    "verify_record",
]
