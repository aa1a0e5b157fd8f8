"""Where minds371 keeps its state, and whether it may reach beyond this machine.

The environment is read only here, at the edge.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from urllib.parse import urlsplit

from minds371.errors import ConfigurationError

__all__ = ["home", "is_loopback_url", "require_network"]

HOME_ENV = "MINDS371_HOME"


def home() -> Path:
    """The state directory: ``$MINDS371_HOME``, else ``~/.minds371`` (not created here)."""
    configured = os.environ.get(HOME_ENV, "").strip()
    return Path(configured).expanduser() if configured else Path.home() / ".minds371"


def is_loopback_url(url: str) -> bool:
    """Whether ``url`` points at this machine (``localhost``, 127.0.0.0/8, ``::1``)."""
    host = urlsplit(url).hostname or ""
    if host in ("localhost", "") or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def require_network(url: str, *, what: str) -> None:
    """Refuse to reach a non-loopback ``url`` while ``minds371.ALLOW_NETWORK`` is false.

    Tests set ``minds371.ALLOW_NETWORK = False`` so that nothing can reach a live network by
    accident; loopback addresses (the sandbox, a local node) stay reachable.

    Raises:
        ConfigurationError: if the network is not allowed and ``url`` is not loopback.
    """
    import minds371

    if not minds371.ALLOW_NETWORK and not is_loopback_url(url):
        raise ConfigurationError(
            f"{what} at {url} is off this machine and network access is disabled "
            "(minds371.ALLOW_NETWORK is False)"
        )
