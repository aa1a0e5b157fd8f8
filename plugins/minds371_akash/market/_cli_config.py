"""How the CLI backend runs the ``akash`` and ``provider-services`` binaries."""

from __future__ import annotations

import os
from typing import Any

from pydantic import BaseModel, ConfigDict

__all__ = ["CliConfig"]


class CliConfig(BaseModel):
    """How to run the binaries.

    Attributes:
        akash: The ``akash`` binary (name on PATH or path).
        provider_services: The ``provider-services`` binary.
        key_name: The key to sign with (``--from``).
        owner: The key's address; asked of ``akash keys show KEY -a`` when omitted.
        node: RPC node (``--node``; also exported as ``AKASH_NODE``).
        chain_id: ``--chain-id`` for transactions (``provider-services`` has no such flag).
        keyring_backend: ``--keyring-backend`` for both binaries (their default is ``os``).
        tx_flags: Extra flags for every transaction (gas settings, ``-y``); the backend adds
            ``--broadcast-mode block`` after them.
        timeout: Seconds a command may run.
        block_time: The network's block time, if known (polling pace, cost reports).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    akash: str = "akash"
    provider_services: str = "provider-services"
    key_name: str = "default"
    owner: str | None = None
    node: str | None = None
    chain_id: str | None = None
    keyring_backend: str | None = None
    tx_flags: tuple[str, ...] = ("--gas", "auto", "--gas-adjustment", "1.5", "-y")
    timeout: float = 120.0
    block_time: float | None = None

    @classmethod
    def from_env(cls, **overrides: Any) -> CliConfig:
        """A config from the environment (explicit ``overrides`` win)."""
        env = {
            "akash": os.environ.get("MINDS371_AKASH_BIN"),
            "provider_services": os.environ.get("MINDS371_PROVIDER_SERVICES_BIN"),
            "key_name": os.environ.get("MINDS371_AKASH_KEY"),
            "node": os.environ.get("AKASH_NODE"),
            "chain_id": os.environ.get("AKASH_CHAIN_ID"),
            "keyring_backend": os.environ.get("AKASH_KEYRING_BACKEND"),
        }
        values = {k: v for k, v in env.items() if v}
        return cls(**{**values, **overrides})
