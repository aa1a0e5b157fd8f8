"""Where minds371 keeps its state, and whether it may reach beyond this machine.

The environment is read only here, at the edge.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from urllib.parse import urlsplit

from minds371.errors import ConfigurationError

__all__ = ["base_home", "home", "home_for", "is_loopback_url", "require_network"]

HOME_ENV = "MINDS371_HOME"
#: A served sandbox: another world than the one kept in the home (see :func:`home`).
SANDBOX_URL_ENV = "MINDS371_SANDBOX_URL"


def base_home() -> Path:
    """``$MINDS371_HOME``, else ``~/.minds371`` (not created here)."""
    configured = os.environ.get(HOME_ENV, "").strip()
    return Path(configured).expanduser() if configured else Path.home() / ".minds371"


def home() -> Path:
    """The state directory (not created here).

    It is :func:`base_home`, or, while ``MINDS371_SANDBOX_URL`` names a served sandbox, a
    directory of that sandbox's own under it (``served/<host>-<port>``). A served sandbox is a
    world of its own: its deployments, the registry records that point at them and the tasks
    that made them must not mix with the embedded sandbox's (whose world is saved in the home),
    or discovery would serve one world's endpoints from the other's.
    """
    return home_for(base_home(), os.environ.get(SANDBOX_URL_ENV, ""))


def home_for(base: Path, sandbox_url: str = "") -> Path:
    """The state directory under ``base`` for a served sandbox at ``sandbox_url`` (if any)."""
    url = sandbox_url.strip()
    if not url:
        return base
    parts = urlsplit(url)
    where = f"{parts.hostname or 'sandbox'}-{parts.port or 80}{parts.path.rstrip('/')}"
    slug = "".join(c if c.isalnum() or c in "-." else "-" for c in where)[:100]
    return base / "served" / slug


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
