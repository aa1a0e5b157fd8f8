"""The sandbox: a local Akash marketplace that speaks the real protocols.

One ASGI app serves the Console API (``/v1/...``), every simulated provider's gateway
(``/gateway/{address}/...``), chain LCD and tx routes for the CLI stand-ins (``/akash/...``,
``/cosmos/...``) and admin routes for tests (``/sandbox/...``). Run it in-process with
:class:`SandboxNetwork` or as a server with ``minds371 sandbox serve`` (:class:`SandboxServer`
starts one for tests and benchmarks). See ``README.md`` in this folder for every detail a client
relies on.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from minds371_sandbox._cli_standin import write_standin_binaries
    from minds371_sandbox._hub import Faults
    from minds371_sandbox._identity import (
        AUDITOR,
        identity_for_api_key,
        identity_for_key_name,
    )
    from minds371_sandbox._images import classify_image
    from minds371_sandbox._network import DEFAULT_BASE_URL, SandboxNetwork
    from minds371_sandbox._plugin import plugin
    from minds371_sandbox._providers import (
        Capacity,
        GpuModel,
        Pricing,
        ProviderSpec,
        default_providers,
        load_providers,
    )
    from minds371_sandbox._records import WorldConfig
    from minds371_sandbox._server import SandboxServer

# Imported on first use: the CLI stand-ins start fast without the server stack (and without the
# plugin, which pulls in the framework's logging).
_LAZY = {
    "AUDITOR": "minds371_sandbox._identity",
    "Capacity": "minds371_sandbox._providers",
    "DEFAULT_BASE_URL": "minds371_sandbox._network",
    "Faults": "minds371_sandbox._hub",
    "GpuModel": "minds371_sandbox._providers",
    "Pricing": "minds371_sandbox._providers",
    "ProviderSpec": "minds371_sandbox._providers",
    "SandboxNetwork": "minds371_sandbox._network",
    "SandboxServer": "minds371_sandbox._server",
    "WorldConfig": "minds371_sandbox._records",
    "classify_image": "minds371_sandbox._images",
    "default_providers": "minds371_sandbox._providers",
    "identity_for_api_key": "minds371_sandbox._identity",
    "identity_for_key_name": "minds371_sandbox._identity",
    "load_providers": "minds371_sandbox._providers",
    "plugin": "minds371_sandbox._plugin",
    "write_standin_binaries": "minds371_sandbox._cli_standin",
}

__all__ = [
    "AUDITOR",
    "DEFAULT_BASE_URL",
    "Capacity",
    "Faults",
    "GpuModel",
    "Pricing",
    "ProviderSpec",
    "SandboxNetwork",
    "SandboxServer",
    "WorldConfig",
    "classify_image",
    "default_providers",
    "identity_for_api_key",
    "identity_for_key_name",
    "load_providers",
    "plugin",
    "write_standin_binaries",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
