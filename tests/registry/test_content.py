from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

import minds371
from minds371.errors import ConfigurationError, ContentMismatch, RegistryError
from minds371_registry import KuboContentStore, LocalContentStore, cid_of

from .conftest import FIXTURES

VECTORS = json.loads((FIXTURES / "expected_cids.json").read_text())
MEDIUM = (FIXTURES / "medium.bin").read_bytes()


# -- the local store ------------------------------------------------------------------------------


async def test_local_store_round_trips_with_ipfs_cids(tmp_path: Path):
    async with LocalContentStore(tmp_path) as store:
        cid = await store.put(MEDIUM)
        assert cid == VECTORS["medium.bin"]["cidv1"]
        assert await store.get(cid) == MEDIUM
        small = await store.put(b"hello")
        assert await store.get(small) == b"hello"
        await store.pin(small)
        await store.pin(small)  # pinning twice is no error
        assert await store.is_pinned(small)
        assert (tmp_path / "pins" / small).stat().st_mode & 0o777 == 0o600


async def test_local_objects_are_private_and_leave_no_temporary_behind(tmp_path: Path):
    store = LocalContentStore(tmp_path / "content")
    cids = [await store.put(b'{"n":%d}' % n) for n in range(40)]  # many a first in its folder
    assert cids[3] == await store.put(b'{"n":3}')  # the same bytes again: already there
    files = [path for path in (tmp_path / "content").rglob("*") if path.is_file()]
    assert sorted(path.name for path in files) == sorted(cids)
    assert {path.stat().st_mode & 0o777 for path in files} == {0o600}
    assert [await store.get(cid) for cid in cids[:2]] == [b'{"n":0}', b'{"n":1}']


async def test_local_pin_is_a_second_name_of_the_stored_file_and_old_markers_count(
    tmp_path: Path,
):
    store = LocalContentStore(tmp_path)
    cids = [await store.put(b'{"v":%d}' % n) for n in (1, 3)]
    for cid in cids:  # the first pin makes the folder, the next finds it
        await store.pin(cid)
        # A link, not a new file: the marker is the stored file under another name.
        assert (tmp_path / "pins" / cid).stat().st_ino == store.path_of(cid).stat().st_ino
        assert store.path_of(cid).stat().st_nlink == 2
    # A store pinned before keeps its empty marker files, and they still count.
    older = await store.put(b'{"v":0}')
    (tmp_path / "pins" / older).touch(mode=0o600)
    assert await store.is_pinned(older)
    await store.pin(older)  # already pinned: nothing changes
    assert (tmp_path / "pins" / older).read_bytes() == b""
    assert not await store.is_pinned(await store.put(b'{"v":2}'))


async def test_local_store_refuses_swapped_bytes(tmp_path: Path):
    store = LocalContentStore(tmp_path)
    cid = await store.put(b'{"endpoint":"http://good"}')
    store.path_of(cid).write_bytes(b'{"endpoint":"http://evil"}')
    with pytest.raises(ContentMismatch) as info:
        await store.get(cid)
    assert info.value.details["cid"] == cid


async def test_local_store_missing_content(tmp_path: Path):
    store = LocalContentStore(tmp_path)
    missing = cid_of(b"never stored")
    with pytest.raises(RegistryError, match="not in the local store"):
        await store.get(missing)
    with pytest.raises(RegistryError, match="cannot pin"):
        await store.pin(missing)


# -- the Kubo RPC backend, against answers shaped like Kubo's /api/v0 ------------------------------


class FakeKubo:
    """Answers like Kubo's RPC API: POST only, NDJSON from add, Size as a string, error bodies."""

    def __init__(self, *, lie_cid: str | None = None, lie_bytes: bytes | None = None) -> None:
        self.blobs: dict[str, bytes] = {}
        self.requests: list[httpx.Request] = []
        self.lie_cid = lie_cid
        self.lie_bytes = lie_bytes

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.method != "POST":
            return httpx.Response(405, text="405 - Method Not Allowed")
        command = request.url.path.removeprefix("/api/v0/")
        if command == "version":
            return httpx.Response(
                200,
                json={
                    "Version": "0.32.1",
                    "Commit": "",
                    "Repo": "16",
                    "System": "amd64/linux",
                    "Golang": "go1.23.2",
                },
            )
        if command == "add":
            content = request.content
            # multipart body: pick the file part out of it
            boundary = request.headers["content-type"].split("boundary=")[1].encode()
            part = content.split(b"--" + boundary)[1]
            data = part.split(b"\r\n\r\n", 1)[1].rsplit(b"\r\n", 1)[0]
            cid = self.lie_cid or cid_of(data)
            self.blobs[cid] = data
            line = json.dumps({"Name": "blob", "Hash": cid, "Size": str(len(data))})
            return httpx.Response(
                200, text=line + "\n", headers={"Content-Type": "application/json"}
            )
        arg = request.url.params.get("arg", "")
        if command == "cat":
            if arg not in self.blobs:
                return httpx.Response(
                    500,
                    json={
                        "Message": "block was not found locally (offline): ipld: could not find "
                        + arg,
                        "Code": 0,
                        "Type": "error",
                    },
                )
            return httpx.Response(200, content=self.lie_bytes or self.blobs[arg])
        if command == "pin/add":
            return httpx.Response(200, json={"Pins": [arg]})
        return httpx.Response(404, text="404 page not found")


def kubo(handler: FakeKubo) -> KuboContentStore:
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return KuboContentStore("http://127.0.0.1:5001", http_client=client)


async def test_kubo_add_cat_pin_version():
    node = FakeKubo()
    async with kubo(node) as store:
        assert await store.version() == "0.32.1"
        cid = await store.put(MEDIUM)
        assert cid == VECTORS["medium.bin"]["cidv1"]
        assert await store.get(cid) == MEDIUM
        await store.pin(cid)
    add = node.requests[1]
    assert add.url.path == "/api/v0/add"
    params = dict(add.url.params)
    assert params["cid-version"] == "1" and params["raw-leaves"] == "true"
    assert params["chunker"] == "size-262144"


async def test_kubo_base58_answer_is_normalised():
    small = VECTORS["small.txt"]
    node = FakeKubo(lie_cid=small["cidv1_base58btc_as_js_ipfs_prints"])
    async with kubo(node) as store:
        assert await store.put((FIXTURES / "small.txt").read_bytes()) == small["cidv1"]


async def test_kubo_wrong_cid_from_add_is_refused():
    node = FakeKubo(lie_cid=cid_of(b"something else"))
    async with kubo(node) as store:
        with pytest.raises(ContentMismatch, match="hashes to"):
            await store.put(b"mine")


async def test_kubo_wrong_bytes_from_cat_are_refused():
    node = FakeKubo(lie_bytes=b"forged")
    async with kubo(node) as store:
        cid = await store.put(b"genuine")
        with pytest.raises(ContentMismatch):
            await store.get(cid)


async def test_kubo_error_body_is_reported():
    async with kubo(FakeKubo()) as store:
        with pytest.raises(RegistryError, match=r"HTTP 500.*not found locally") as info:
            await store.get(cid_of(b"absent"))
    assert info.value.retryable is False


async def test_kubo_unreachable_is_retryable():
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    client = httpx.AsyncClient(transport=httpx.MockTransport(refuse))
    async with KuboContentStore("http://127.0.0.1:5001", http_client=client) as store:
        with pytest.raises(RegistryError) as info:
            await store.put(b"x")
    assert info.value.retryable is True
    await client.aclose()


def test_kubo_refuses_remote_node_when_network_is_off():
    assert minds371.ALLOW_NETWORK is False
    with pytest.raises(ConfigurationError, match="network access is disabled"):
        KuboContentStore("https://ipfs.example.com:5001")
