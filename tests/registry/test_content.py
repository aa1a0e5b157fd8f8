from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import anyio
import httpx
import pytest

import minds371
from minds371.errors import ConfigurationError, ContentMismatch, RegistryError
from minds371_registry import KuboContentStore, LocalContentStore, cid_of
from minds371_registry.content.local import DATABASE_NAME

from .conftest import FIXTURES, overwrite_block, stored_blocks

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
        assert not await store.is_pinned(small)
        await store.pin(small)
        await store.pin(small)  # pinning twice is no error
        assert await store.is_pinned(small)
        assert not await store.is_pinned(cid)
    async with LocalContentStore(tmp_path) as again:  # and it is all there for the next one
        assert await again.get(cid) == MEDIUM and await again.is_pinned(small)


async def test_local_objects_go_into_one_private_database(tmp_path: Path):
    root = tmp_path / "content"
    async with LocalContentStore(root) as store:
        # At once, as a burst of registrations stores them: they share commits.
        async with anyio.create_task_group() as group:
            for n in range(40):
                group.start_soon(store.put, b'{"n":%d}' % n)
        cids = [cid_of(b'{"n":%d}' % n) for n in range(40)]
        assert cids[3] == await store.put(b'{"n":3}')  # the same bytes again: already there
        assert [await store.get(cid) for cid in cids[:2]] == [b'{"n":0}', b'{"n":1}']
        assert set(stored_blocks(store)) == set(cids)
        # No file per object: the database (and SQLite's own files beside it), owner-only.
        files = sorted(path.name for path in root.rglob("*"))
        assert set(files) <= {DATABASE_NAME, f"{DATABASE_NAME}-wal", f"{DATABASE_NAME}-shm"}
        assert {(root / name).stat().st_mode & 0o777 for name in files} == {0o600}


async def test_objects_of_the_file_layout_are_still_read_and_pinned(tmp_path: Path):
    store = LocalContentStore(tmp_path)
    # A store written before: one file per object, pins as names (or empty files) under pins/.
    old, pinned_before = b'{"v":1}', b'{"v":2}'
    for data in (old, pinned_before):
        path = store.path_of(cid_of(data))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    (tmp_path / "pins").mkdir()
    (tmp_path / "pins" / cid_of(pinned_before)).touch()
    assert await store.get(cid_of(old)) == old
    assert await store.is_pinned(cid_of(pinned_before))
    assert not await store.is_pinned(cid_of(old))
    await store.pin(cid_of(old))  # pinned now, it moves into the database
    assert await store.is_pinned(cid_of(old))
    assert stored_blocks(store) == {cid_of(old): old}
    # A file swapped under its CID is refused as a row is.
    store.path_of(cid_of(pinned_before)).write_bytes(b'{"v":666}')
    with pytest.raises(ContentMismatch):
        await store.get(cid_of(pinned_before))
    with pytest.raises(RegistryError, match="cannot pin"):
        await store.pin(cid_of(b"in neither layout"))
    await store.aclose()


async def test_reading_a_store_that_holds_nothing_creates_nothing(tmp_path: Path):
    async with LocalContentStore(tmp_path / "content") as store:
        with pytest.raises(RegistryError, match="not in the local store"):
            await store.get(cid_of(b"{}"))
        assert not await store.is_pinned(cid_of(b"{}"))
    assert not (tmp_path / "content").exists()


async def test_local_store_refuses_swapped_bytes(tmp_path: Path):
    async with LocalContentStore(tmp_path) as store:
        cid = await store.put(b'{"endpoint":"http://good"}')
        overwrite_block(store, cid, b'{"endpoint":"http://evil"}')
        with pytest.raises(ContentMismatch) as info:
            await store.get(cid)
        assert info.value.details["cid"] == cid


async def test_local_store_missing_content(tmp_path: Path):
    async with LocalContentStore(tmp_path) as store:
        missing = cid_of(b"never stored")
        with pytest.raises(RegistryError, match="not in the local store"):
            await store.get(missing)
        with pytest.raises(RegistryError, match="cannot pin"):
            await store.pin(missing)
        # A failed pin fails alone: a put in the same commit is stored.
        stored = b'{"stored":true}'
        async with anyio.create_task_group() as group:
            group.start_soon(store.put, stored)
            group.start_soon(_refused_pin, store, missing)
        assert await store.get(cid_of(stored)) == stored


async def _refused_pin(store: LocalContentStore, cid: str) -> None:
    with pytest.raises(RegistryError, match="cannot pin"):
        await store.pin(cid)


async def test_a_write_waits_for_another_process_without_blocking_the_loop(tmp_path: Path):
    async with LocalContentStore(tmp_path) as store:
        await store.check()  # the database exists
        other = sqlite3.connect(store.database, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another process writing: it holds the write lock
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await anyio.sleep(0.01)

        async def release_later() -> None:
            await anyio.sleep(0.3)
            other.execute("COMMIT")

        async with anyio.create_task_group() as group:
            group.start_soon(tick)
            group.start_soon(release_later)
            cid = await store.put(b'{"waited":true}')
            group.cancel_scope.cancel()
        other.close()
        assert await store.get(cid) == b'{"waited":true}'
        assert ticks >= 10  # the loop went on while the write waited for the lock


async def test_opening_waits_for_another_process_making_the_same_store(tmp_path: Path):
    # Two workers on one home open its new store at once: one makes the table while the other
    # waits for it, instead of failing "database is locked" (and refusing to deploy).
    store = LocalContentStore(tmp_path)
    other = sqlite3.connect(store.database, isolation_level=None)
    other.execute("PRAGMA journal_mode=WAL")
    other.execute("BEGIN IMMEDIATE")  # the other process, in the middle of making it

    async def release_later() -> None:
        await anyio.sleep(0.3)
        other.execute("COMMIT")

    async with anyio.create_task_group() as group:
        group.start_soon(release_later)
        await store.check()
    other.close()
    cid = await store.put(b'{"opened":true}')
    assert await store.get(cid) == b'{"opened":true}'
    await store.aclose()


async def test_a_store_in_a_folder_that_cannot_hold_it_says_so(tmp_path: Path):
    (tmp_path / "content").write_text("a file where the folder goes")
    store = LocalContentStore(tmp_path / "content")
    with pytest.raises(RegistryError, match="cannot open the content store"):
        await store.check()
    with pytest.raises(RegistryError, match="cannot open the content store"):
        await store.put(b"{}")


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
