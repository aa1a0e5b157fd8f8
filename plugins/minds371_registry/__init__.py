"""minds371_registry: signed deployment records, IPFS metadata and service discovery."""

from minds371_registry._plugin import plugin

__all__ = ["plugin"]
