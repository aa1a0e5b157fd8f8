"""minds371_akash: the Akash Network marketplace (SDL engine, market backends, sandbox)."""

from minds371_akash._plugin import plugin

__all__ = ["plugin"]
