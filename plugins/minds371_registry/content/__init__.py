"""Content stores: the :class:`ContentStore` protocol, CID computation and the backends.

``LocalContentStore`` (files under ``$MINDS371_HOME``, the default) and ``KuboContentStore`` (an
IPFS node's ``/api/v0`` RPC over httpx) both give the CIDs ``ipfs add --cid-version=1`` gives.
"""

from minds371_registry.content._protocol import ContentStore
from minds371_registry.content._unixfs import CHUNK_SIZE, MAX_LINKS, Block, cid_of, normalize_cid
from minds371_registry.content.kubo import KuboContentStore
from minds371_registry.content.local import LocalContentStore

__all__ = [
    "CHUNK_SIZE",
    "MAX_LINKS",
    "Block",
    "ContentStore",
    "KuboContentStore",
    "LocalContentStore",
    "cid_of",
    "normalize_cid",
]
