"""The CID an IPFS node gives a file: UnixFS, dag-pb, balanced layout, CIDv1 with raw leaves.

This reproduces ``ipfs add --cid-version=1`` with Kubo's defaults, byte for byte:

* the file is cut into 262,144-byte chunks (``size-262144``);
* each chunk is a ``raw`` block (CIDv1 implies raw leaves); a file of one chunk (or none) *is* that
  raw block, so its CID is ``bafkrei...``;
* larger files get a balanced tree of dag-pb nodes of at most 174 links each, filled left to right:
  174 leaves under a node, 174 such nodes under the next, and so on. Every internal node holds a
  UnixFS ``File`` message (``filesize`` and one ``blocksizes`` entry per child), and each link its
  child's CID, an empty name and ``Tsize``, the total encoded size of the child's subtree.

Hashes are SHA-256. The vectors in ``tests/fixtures/registry/expected_cids.json`` come from js-ipfs
and Kubo.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

from multiformats import CID

from minds371.errors import FieldIssue, ValidationError

__all__ = [
    "CHUNK_SIZE",
    "MAX_LINKS",
    "Block",
    "cid_of",
    "normalize_cid",
    "unixfs_blocks",
]

CHUNK_SIZE = 262_144
MAX_LINKS = 174

_UNIXFS_FILE = 2
_RAW = 0x55
_DAG_PB = 0x70
_SHA2_256 = b"\x12\x20"  # multihash: sha2-256, 32 bytes


@dataclass(frozen=True, slots=True)
class Block:
    """One block of a file's DAG.

    Attributes:
        cid: Its CID (CIDv1, base32).
        cid_bytes: The same CID in binary, as links hold it.
        data: Its encoded bytes (the chunk itself for a raw leaf).
        file_size: How many bytes of the file lie under it.
        tree_size: Its encoded size plus that of every block under it (a link's ``Tsize``).
    """

    cid: str
    cid_bytes: bytes
    data: bytes
    file_size: int
    tree_size: int


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, wire_type: int) -> bytes:
    return _varint(number << 3 | wire_type)


def _bytes_field(number: int, payload: bytes) -> bytes:
    return _field(number, 2) + _varint(len(payload)) + payload


def _cid(codec: int, data: bytes) -> tuple[str, bytes]:
    # Rendered here rather than with multiformats' CID class, which is ~100x slower, and the
    # registry computes a CID on every read. tests/registry/test_cids.py checks both agree.
    raw = b"\x01" + _varint(codec) + _SHA2_256 + hashlib.sha256(data).digest()
    return "b" + base64.b32encode(raw).decode().lower().rstrip("="), raw


def _leaf(chunk: bytes) -> Block:
    cid, raw = _cid(_RAW, chunk)
    return Block(cid, raw, chunk, len(chunk), len(chunk))


def _node(children: list[Block]) -> Block:
    # UnixFS Data: Type=File, filesize, one blocksizes entry per child (proto2, not packed).
    file_size = sum(child.file_size for child in children)
    unixfs = _field(1, 0) + _varint(_UNIXFS_FILE) + _field(3, 0) + _varint(file_size)
    unixfs += b"".join(_field(4, 0) + _varint(child.file_size) for child in children)
    # dag-pb's canonical form puts every Link (field 2) before Data (field 1).
    links = b"".join(
        _bytes_field(
            2,
            _bytes_field(1, child.cid_bytes)
            + _bytes_field(2, b"")
            + _field(3, 0)
            + _varint(child.tree_size),
        )
        for child in children
    )
    encoded = links + _bytes_field(1, unixfs)
    tree_size = len(encoded) + sum(child.tree_size for child in children)
    cid, raw = _cid(_DAG_PB, encoded)
    return Block(cid, raw, encoded, file_size, tree_size)


def unixfs_blocks(data: bytes) -> Iterator[Block]:
    """Every block of ``data``'s DAG, leaves first and the root last."""
    level = [_leaf(data[i : i + CHUNK_SIZE]) for i in range(0, len(data), CHUNK_SIZE)]
    if not level:
        level = [_leaf(b"")]
    yield from level
    while len(level) > 1:
        level = [_node(level[i : i + MAX_LINKS]) for i in range(0, len(level), MAX_LINKS)]
        yield from level


def cid_of(data: bytes) -> str:
    """The CID ``ipfs add --cid-version=1`` gives ``data`` (base32, ``bafk...``/``bafy...``)."""
    if len(data) <= CHUNK_SIZE:
        cid = _cid(_RAW, data)[0]
    else:
        root: Block | None = None
        for root in unixfs_blocks(data):  # noqa: B007 - the last block is the root
            pass
        assert root is not None
        cid = root.cid
    _rendered[cid] = None  # canonical by construction: storing it, then pinning it, asks again
    if len(_rendered) > _RENDERED_KEPT:
        # Large objects are stored from worker threads: another may trim at the same moment.
        with contextlib.suppress(StopIteration, KeyError, RuntimeError):
            del _rendered[next(iter(_rendered))]
    return cid


# CIDs cid_of rendered lately (oldest first), known to be canonical without decoding them again.
_rendered: dict[str, None] = {}
_RENDERED_KEPT = 1024


def normalize_cid(cid: str, *, path: str = "/cid") -> str:
    """Parse a CID in any multibase (or CIDv0) and render it as CIDv1 base32.

    Raises:
        ValidationError: if ``cid`` is not a CID, naming ``path``.
    """
    cid = cid.strip()
    if _is_base32_v1(cid):
        return cid
    try:
        parsed = CID.decode(cid)
    except Exception as exc:  # multiformats raises several error types for malformed input
        raise ValidationError(
            [FieldIssue(path, f"{cid!r} is not a CID ({exc})")], subject="CID"
        ) from exc
    if parsed.version == 0:
        parsed = CID("base32", 1, "dag-pb", parsed.digest)
    return str(parsed.set(base="base32"))


def _is_base32_v1(cid: str) -> bool:
    """Whether ``cid`` already is a well-formed CIDv1 in lower-case base32 with a sha2-256 hash."""
    if cid in _rendered:
        return True
    if not cid.startswith("b") or not cid.islower():
        return False
    body = cid[1:].upper()
    try:
        raw = base64.b32decode(body + "=" * (-len(body) % 8))
    except (binascii.Error, ValueError):
        return False
    well_formed = len(raw) == 36 and raw[0] == 1 and raw[1] in (_RAW, _DAG_PB)
    canonical = "b" + base64.b32encode(raw).decode().lower().rstrip("=") == cid
    return well_formed and canonical and raw[2:4] == _SHA2_256
