"""The sandbox: a local Akash marketplace that speaks the real protocols.

One ASGI app serves the Console API (``/v1/...``), every simulated provider's gateway
(``/gateway/{address}/...``), chain LCD and tx routes for the CLI stand-ins (``/akash/...``,
``/cosmos/...``) and admin routes for tests (``/sandbox/...``). Run it in-process with
:class:`SandboxNetwork` or as a server with ``minds371 sandbox serve`` (:class:`SandboxServer`
starts one for tests and benchmarks). See ``README.md`` in this folder for every detail a client
relies on.
"""

from minds371_akash.market.sandbox._hub import Faults
from minds371_akash.market.sandbox._identity import (
    AUDITOR,
    identity_for_api_key,
    identity_for_key_name,
)
from minds371_akash.market.sandbox._images import classify_image
from minds371_akash.market.sandbox._network import DEFAULT_BASE_URL, SandboxNetwork
from minds371_akash.market.sandbox._providers import (
    Capacity,
    GpuModel,
    Pricing,
    ProviderSpec,
    default_providers,
    load_providers,
)
from minds371_akash.market.sandbox._records import WorldConfig
from minds371_akash.market.sandbox._server import SandboxServer

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
]
