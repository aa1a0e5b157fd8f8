"""The Console backend's pooled transport, against real HTTP peers on 127.0.0.1.

Each peer is a raw TCP server that reads one HTTP/1.1 request at a time and answers (or
misbehaves) as the test says, so that the bytes on the wire and every failure mode are real.
What matters most is that a failure before the request left says so (``ConnectError``,
``ConnectTimeout``), and that any failure after it may have been sent is ambiguous: creating a
deployment is not idempotent.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import httpx
import pytest
from anyio.abc import ByteStream, SocketAttribute

from minds371_akash.market._errors import is_ambiguous
from minds371_akash.market._pooled_transport import PooledTransport
from tests.market.http_peers import echo, peer, respond, tls_peer


def client(transport: PooledTransport, **kwargs: object) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=transport, **kwargs)  # type: ignore[arg-type]


async def test_request_and_response_keep_httpx_semantics():
    hooked: list[str] = []

    async def hook(request: httpx.Request) -> None:
        hooked.append(request.method)

    async with (
        peer(echo) as (url, seen),
        client(PooledTransport(), event_hooks={"request": [hook]}) as http,
    ):
        response = await http.post(
            f"{url}/v1/deployments?x=1", json={"data": {"sdl": "é"}}, headers={"x-api-key": "k"}
        )
    assert response.status_code == 200 and response.reason_phrase == "Fine"
    assert response.json() == {"line": "POST /v1/deployments?x=1 HTTP/1.1"}  # gzip decoded
    head, body = seen.requests[0]
    fields = {
        line.split(b":")[0].lower(): line.split(b":", 1)[1].strip()
        for line in head.split(b"\r\n")[1:]
    }
    assert json.loads(body) == {"data": {"sdl": "é"}}
    assert fields[b"content-length"] == str(len(body)).encode()
    assert fields[b"x-api-key"] == b"k" and fields[b"host"] == url.split("//")[1].encode()
    assert b"transfer-encoding" not in fields
    assert hooked == ["POST"]


async def test_connections_are_reused():
    async with peer(echo) as (url, seen), client(PooledTransport()) as http:
        for _ in range(3):
            assert (await http.get(f"{url}/v1/bids")).status_code == 200
    assert len(seen.requests) == 3 and seen.connections == 1


async def test_streamed_body_goes_out_with_a_length():
    async def chunks() -> AsyncIterator[bytes]:
        yield b"ab"
        yield b"cd"

    async with peer(echo) as (url, seen), client(PooledTransport()) as http:
        await http.post(f"{url}/upload", content=chunks())
    head, body = seen.requests[0]
    assert body == b"abcd" and b"content-length: 4" in head.lower()
    assert b"transfer-encoding" not in head.lower()


async def test_redirects_are_left_to_httpx():
    async def redirect(head: bytes, stream: ByteStream) -> bool:
        if head.startswith(b"GET /old"):
            await stream.send(respond("302 Found", b"", "location: /new"))
        else:
            await echo(head, stream)
        return True

    async with peer(redirect) as (url, _), client(PooledTransport()) as http:
        assert (await http.get(f"{url}/old")).status_code == 302
        followed = await http.get(f"{url}/old", follow_redirects=True)
    assert followed.json() == {"line": "GET /new HTTP/1.1"}


async def test_refused_connection_is_not_ambiguous():
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(SocketAttribute.local_port)
    await listener.aclose()
    async with client(PooledTransport()) as http:
        with pytest.raises(httpx.ConnectError) as failure:
            await http.post(f"http://127.0.0.1:{port}/v1/deployments", json={})
    assert not is_ambiguous(failure.value)


async def test_connection_dropped_after_the_request_is_ambiguous():
    async def hang_up(head: bytes, stream: ByteStream) -> bool:
        return False  # request read, no answer, connection closed

    async with peer(hang_up) as (url, seen), client(PooledTransport()) as http:
        with pytest.raises(httpx.TransportError) as failure:
            await http.post(f"{url}/v1/deployments", json={"data": {}})
    assert len(seen.requests) == 1  # it did arrive
    assert is_ambiguous(failure.value)


async def test_silent_server_is_a_read_timeout():
    async def silent(head: bytes, stream: ByteStream) -> bool:
        await anyio.sleep(5)
        return False

    async with peer(silent) as (url, _), client(PooledTransport()) as http:
        with pytest.raises(httpx.ReadTimeout) as failure:
            await http.post(f"{url}/v1/leases", json={}, timeout=httpx.Timeout(5, read=0.2))
    assert is_ambiguous(failure.value)


async def test_waiting_for_a_pooled_connection_times_out_unsent():
    release = anyio.Event()

    async def held(head: bytes, stream: ByteStream) -> bool:
        await release.wait()
        await echo(head, stream)
        return True

    async with peer(held) as (url, seen), client(PooledTransport(max_connections=1)) as http:
        async with anyio.create_task_group() as tg:
            tg.start_soon(http.get, f"{url}/first")
            await anyio.sleep(0.1)
            with pytest.raises(httpx.ConnectTimeout) as failure:
                await http.post(f"{url}/second", timeout=httpx.Timeout(5, pool=0.1, connect=0.1))
            release.set()
    assert not is_ambiguous(failure.value)
    assert [head.split(b" ")[1] for head, _ in seen.requests] == [b"/first"]


async def test_a_cancelled_request_gives_its_connection_back():
    async def slow_first(head: bytes, stream: ByteStream) -> bool:
        if b"/slow" in head:
            await anyio.sleep(5)
        await echo(head, stream)
        return True

    async with peer(slow_first) as (url, _), client(PooledTransport(max_connections=1)) as http:
        with anyio.move_on_after(0.2) as scope:
            await http.get(f"{url}/slow")
        assert scope.cancelled_caught
        with anyio.fail_after(2):
            assert (await http.get(f"{url}/fast")).status_code == 200


async def test_proxies_come_from_the_environment(monkeypatch: pytest.MonkeyPatch):
    async with peer(echo) as (proxy_url, via_proxy), peer(echo) as (direct_url, direct):
        monkeypatch.setenv("HTTP_PROXY", proxy_url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        async with client(PooledTransport()) as http:
            await http.get(f"{direct_url}/through")
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        async with client(PooledTransport()) as http:
            await http.get(f"{direct_url}/around")
    # A proxy gets the absolute URL in the request line; the bypass goes straight to the peer.
    assert via_proxy.requests[0][0].startswith(f"GET {direct_url}/through ".encode())
    assert [head.split(b" ")[1] for head, _ in direct.requests] == [b"/around"]


def test_under_trio_requests_go_through_httpx_own_transport():
    async def main() -> tuple[int, int]:
        async with peer(echo) as (url, seen), client(PooledTransport()) as http:
            response = await http.post(f"{url}/v1/deployments", json={"data": {}})
            assert response.json() == {"line": "POST /v1/deployments HTTP/1.1"}
            return response.status_code, len(seen.requests)

    assert anyio.run(main, backend="trio") == (200, 1)


async def test_https_checks_the_server_certificate():
    async with tls_peer() as (base, trusting):
        url = f"{base}/v1/providers"
        async with client(PooledTransport(verify=trusting)) as http:
            assert (await http.get(url)).json() == {"line": "GET /v1/providers HTTP/1.1"}
        # The system's (certifi's) authorities do not vouch for this server: refused, unsent.
        async with client(PooledTransport()) as http:
            with pytest.raises(httpx.ConnectError) as failure:
                await http.get(url)
        assert not is_ambiguous(failure.value)


# -- the direct path (``exchange``): what the Console backend sends through its own transport --


def _fields(head: bytes) -> dict[bytes, bytes]:
    return {
        line.split(b":")[0].lower(): line.split(b":", 1)[1].strip()
        for line in head.split(b"\r\n")[1:]
    }


async def test_exchange_sends_a_sized_body_and_decodes_the_answer():
    transport = PooledTransport()
    async with peer(echo) as (url, seen):
        answer = await transport.exchange(
            "POST",
            f"{url}/v1/deployments?x=1",
            headers={"x-api-key": "k", "content-type": "application/json"},
            content=b'{"data":{}}',
            seconds=5,
        )
        again = await transport.exchange(
            "GET", f"{url}/v1/bids", headers={}, content=None, seconds=5
        )
    await transport.aclose()
    assert (answer.status, answer.reason) == (200, "Fine")
    assert json.loads(answer.content) == {"line": "POST /v1/deployments?x=1 HTTP/1.1"}  # gunzipped
    assert json.loads(again.content) == {"line": "GET /v1/bids HTTP/1.1"}
    head, body = seen.requests[0]
    assert body == b'{"data":{}}'
    assert _fields(head)[b"content-length"] == b"11" and b"transfer-encoding" not in _fields(head)
    assert seen.connections == 1  # the second exchange reused the connection


async def test_exchange_failures_say_whether_the_request_may_have_left():
    transport = PooledTransport()
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(SocketAttribute.local_port)
    await listener.aclose()
    with pytest.raises(httpx.ConnectError) as refused:
        await transport.exchange(
            "POST", f"http://127.0.0.1:{port}/x", headers={}, content=b"{}", seconds=5
        )
    assert not is_ambiguous(refused.value)

    async def hang_up(head: bytes, stream: ByteStream) -> bool:
        return False

    async def silent(head: bytes, stream: ByteStream) -> bool:
        await anyio.sleep(5)
        return False

    async with peer(hang_up) as (url, seen):
        with pytest.raises(httpx.TransportError) as dropped:
            await transport.exchange(
                "POST", f"{url}/v1/leases", headers={}, content=b"{}", seconds=5
            )
    assert len(seen.requests) == 1 and is_ambiguous(dropped.value)
    async with peer(silent) as (url, _):
        with pytest.raises(httpx.ReadTimeout) as late:
            await transport.exchange(
                "POST", f"{url}/v1/leases", headers={}, content=b"{}", seconds=0.2
            )
    assert is_ambiguous(late.value)
    await transport.aclose()


async def test_the_console_backend_sends_the_same_request_either_way():
    """Its own transport (direct) and a client given to it (httpx) send the same requests (the
    direct path offers only the encodings it decodes), and a refusal maps to the same error."""
    from minds371_akash.market import ConsoleBackend
    from minds371_akash.market._errors import NotFound

    async def answer(head: bytes, stream: ByteStream) -> bool:
        if b"/v1/bids" in head:
            await stream.send(respond("200 OK", b'{"data":[]}', "content-type: application/json"))
        else:
            body = b'{"error":"NotFoundError","message":"Deployment not found"}'
            await stream.send(respond("404 Not Found", body, "content-type: application/json"))
        return True

    async with peer(answer) as (url, seen):
        errors: list[str] = []
        async with (
            ConsoleBackend(url, api_key="key-1") as direct,
            client(PooledTransport()) as given,
            ConsoleBackend(url, api_key="key-1", http_client=given) as through_httpx,
        ):
            for backend in (direct, through_httpx):
                assert await backend.list_bids(7) == []
                with pytest.raises(NotFound) as failure:
                    await backend.create_leases(7, [], manifest="[]")
                errors.append(f"{type(failure.value).__name__}: {failure.value}")
    assert errors[0] == errors[1]
    heads = [_fields(head) for head, _ in seen.requests]
    assert {h.pop(b"accept-encoding") for h in heads} == {b"gzip, deflate", b"gzip, deflate, zstd"}
    bodies = [body for _, body in seen.requests]
    half = len(heads) // 2
    assert heads[:half] == heads[half:] and bodies[:half] == bodies[half:]
    assert heads[0][b"x-api-key"] == b"key-1"
    assert [h.get(b"content-type") for h in heads] == [None, b"application/json"] * 2
    assert json.loads(bodies[1]) == {"manifest": "[]", "leases": []}


def test_plain_http_calls_load_neither_aiohttp_nor_a_certificate_store(tmp_path: Path) -> None:
    # aiohttp costs a quarter of a second of CPU to import and a certificate store tens of
    # milliseconds: only a proxy (or httpx's request API) may load aiohttp, and only https a
    # store, never a process's first plain Console call (a served sandbox's, say).
    script = tmp_path / "first_call.py"
    script.write_text(
        "import sys, anyio\n"
        "from minds371_akash.market._pooled_transport import PooledTransport, _verified_context\n"
        "from tests.market.http_peers import echo, peer\n"
        "async def main():\n"
        "    transport = PooledTransport()\n"
        "    async with peer(echo) as (url, _seen):\n"
        "        answer = await transport.exchange(\n"
        "            'GET', f'{url}/v1/providers', headers={}, content=None, seconds=5\n"
        "        )\n"
        "    await transport.aclose()\n"
        "    stores = _verified_context.cache_info().currsize\n"
        "    print(answer.status, 'aiohttp' in sys.modules, stores)\n"
        "anyio.run(main)\n"
    )
    ran = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "NO_PROXY": "*"},
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.split() == ["200", "False", "0"]
