"""Ledgers: the :class:`Ledger` protocol and its backends.

``LocalLedger`` (a hash-chained SQLite file, the default) and ``EvmLedger`` (the
``Minds371Registry`` contract on any EVM chain, over JSON-RPC).
"""

from minds371_registry.ledger._protocol import HeadStore, Ledger, LedgerEntry
from minds371_registry.ledger.local import GENESIS_HASH, LocalLedger

__all__ = ["GENESIS_HASH", "HeadStore", "Ledger", "LedgerEntry", "LocalLedger"]
