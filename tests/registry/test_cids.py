from __future__ import annotations

import json
import random

import pytest

from minds371.errors import ValidationError
from minds371_registry.content import MAX_LINKS, cid_of, normalize_cid
from minds371_registry.content._unixfs import unixfs_blocks

from .conftest import FIXTURES

VECTORS = json.loads((FIXTURES / "expected_cids.json").read_text())


@pytest.mark.parametrize("name", ["small.txt", "medium.bin", "empty.txt"])
def test_fixture_files_get_the_cids_ipfs_gives(name: str):
    data = (FIXTURES / name).read_bytes()
    assert len(data) == VECTORS[name]["size"]
    assert cid_of(data) == VECTORS[name]["cidv1"]


def test_multi_chunk_file_is_a_dag_pb_root_over_raw_leaves():
    data = (FIXTURES / "medium.bin").read_bytes()
    blocks = list(unixfs_blocks(data))
    assert [b.cid[:6] for b in blocks] == ["bafkre"] * 3 + ["bafybe"]
    assert blocks[-1].file_size == 600_000


def test_two_level_tree_matches_ipfs():
    # big.bin of the vectors: 50 MiB from random.Random(7), 201 chunks, more than one node's links.
    data = random.Random(7).randbytes(50 * 1024 * 1024)
    assert len(data) // 262_144 + 1 > MAX_LINKS
    assert cid_of(data) == VECTORS["big.bin"]["cidv1"]


def test_normalize_cid_renders_base58_and_v0_as_base32_v1():
    small = VECTORS["small.txt"]
    assert normalize_cid(small["cidv1_base58btc_as_js_ipfs_prints"]) == small["cidv1"]
    assert normalize_cid(small["cidv0"]).startswith("bafybei")


def test_normalize_cid_rejects_garbage_naming_the_field():
    with pytest.raises(ValidationError) as info:
        normalize_cid("not-a-cid", path="/metadata_cid")
    assert info.value.issues[0].path == "/metadata_cid"


def test_a_cid_rendered_here_is_taken_as_it_is_and_a_variant_is_still_checked():
    cid = cid_of(b'{"v":1}')
    assert normalize_cid(cid) == cid
    with pytest.raises(ValidationError):
        normalize_cid(cid[:-1] + "!")  # not base32
    # Another base of the same CID still comes back as the one rendered here.
    from multiformats import CID

    assert normalize_cid(str(CID.decode(cid).set(base="base58btc"))) == cid


@pytest.mark.parametrize("size", [0, 1, 100, 262_144, 262_145, 600_000])
def test_fast_rendering_agrees_with_multiformats(size: int):
    from multiformats import CID

    data = random.Random(size).randbytes(size)
    cid = cid_of(data)
    parsed = CID.decode(cid)
    assert parsed.version == 1 and parsed.hashfun.name == "sha2-256"
    assert str(parsed.set(base="base32")) == cid
    assert normalize_cid(cid) == cid
    assert normalize_cid(str(parsed.set(base="base58btc"))) == cid
