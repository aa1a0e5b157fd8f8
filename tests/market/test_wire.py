"""The Console backend's own HTTP/1.1 connections (``_wire``, ``_http11``), against raw peers.

Every answer here is bytes a real server on 127.0.0.1 wrote, framed each way HTTP/1.1 allows
and broken each way a hostile or failing server could. What a caller relies on: the answer read
whole and decoded; a connection reused only when its last answer was read exactly; a failure
before the request left is ``ConnectError``/``ConnectTimeout`` and any later one is ambiguous.
"""

from __future__ import annotations

import gzip
import json
import zlib

import anyio
import httpx
import pytest
from anyio.abc import ByteStream, SocketAttribute, SocketStream

from minds371_akash.market import _http11
from minds371_akash.market._errors import is_ambiguous
from minds371_akash.market._http11 import Malformed, parse_head, request_head, split_url
from minds371_akash.market._pooled_transport import PooledTransport
from tests.market.http_peers import echo, peer, respond, tls_peer


async def get(transport: PooledTransport, url: str, seconds: float = 5) -> tuple[int, bytes]:
    answer = await transport.exchange("GET", url, headers={}, content=None, seconds=seconds)
    return answer.status, answer.content


# -- framing -----------------------------------------------------------------------------------


async def test_a_chunked_answer_is_read_whole_and_its_connection_reused():
    async def chunked(head: bytes, stream: ByteStream) -> bool:
        await stream.send(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhel")
        await anyio.sleep(0.05)  # the answer arrives in pieces
        await stream.send(b"lo\r\n6;ext=1\r\n world\r\n0\r\nx-trailer: t\r\n\r\n")
        return True

    transport = PooledTransport()
    async with peer(chunked) as (url, seen):
        assert await get(transport, f"{url}/a") == (200, b"hello world")
        assert await get(transport, f"{url}/b") == (200, b"hello world")
    await transport.aclose()
    assert seen.connections == 1


async def test_an_answer_that_ends_with_the_connection_is_whole_and_not_reused():
    async def until_close(head: bytes, stream: ByteStream) -> bool:
        await stream.send(b"HTTP/1.1 200 OK\r\n\r\nall of it")
        return False

    transport = PooledTransport()
    async with peer(until_close) as (url, seen):
        assert await get(transport, f"{url}/a") == (200, b"all of it")
        assert await get(transport, f"{url}/b") == (200, b"all of it")
    await transport.aclose()
    assert seen.connections == 2


@pytest.mark.parametrize(
    ("status_line", "header"),
    [("HTTP/1.1 200 OK", "connection: close"), ("HTTP/1.0 200 OK", "x-other: 1")],
)
async def test_a_connection_the_answer_says_is_closing_is_not_reused(status_line, header):
    async def closing(head: bytes, stream: ByteStream) -> bool:
        await stream.send(f"{status_line}\r\ncontent-length: 2\r\n{header}\r\n\r\nok".encode())
        return True  # the server would even keep it open: the client must not count on it

    transport = PooledTransport()
    async with peer(closing) as (url, seen):
        for path in ("/a", "/b"):
            assert await get(transport, url + path) == (200, b"ok")
    await transport.aclose()
    assert seen.connections == 2


async def test_interim_answers_are_skipped():
    async def continued(head: bytes, stream: ByteStream) -> bool:
        await stream.send(b"HTTP/1.1 100 Continue\r\n\r\n")
        await stream.send(b"HTTP/1.1 103 Early Hints\r\nlink: </x>\r\n\r\n")
        await stream.send(respond("201 Created", b"{}"))
        return True

    transport = PooledTransport()
    async with peer(continued) as (url, _):
        assert await get(transport, f"{url}/a") == (201, b"{}")
    await transport.aclose()


async def test_bytes_after_the_answer_retire_the_connection():
    async def overlong(head: bytes, stream: ByteStream) -> bool:
        await stream.send(respond("200 OK", b"ok") + b"HTTP/1.1 200 OK\r\n")
        return True

    transport = PooledTransport()
    async with peer(overlong) as (url, seen):
        assert await get(transport, f"{url}/a") == (200, b"ok")
        assert await get(transport, f"{url}/b") == (200, b"ok")
    await transport.aclose()
    assert seen.connections == 2


@pytest.mark.parametrize("encoding", ["gzip", "deflate-zlib", "deflate-raw"])
async def test_compressed_answers_are_decoded(encoding):
    payload = json.dumps({"data": list(range(200))}).encode()
    if encoding == "gzip":
        body, name = gzip.compress(payload), "gzip"
    elif encoding == "deflate-zlib":
        body, name = zlib.compress(payload), "deflate"
    else:
        raw = zlib.compressobj(wbits=-15)
        body, name = raw.compress(payload) + raw.flush(), "deflate"

    async def compressed(head: bytes, stream: ByteStream) -> bool:
        await stream.send(respond("200 OK", body, f"content-encoding: {name}"))
        return True

    transport = PooledTransport()
    async with peer(compressed) as (url, _):
        assert await get(transport, f"{url}/a") == (200, payload)
    await transport.aclose()


# -- connections ---------------------------------------------------------------------------------


async def test_a_connection_the_server_closed_while_idle_is_not_handed_out():
    async def once(head: bytes, stream: ByteStream) -> bool:
        await echo(head, stream)
        return False  # answered, then closed: as a server's keep-alive timeout does

    transport = PooledTransport()
    async with peer(once) as (url, seen):
        await get(transport, f"{url}/a")
        await anyio.sleep(0.1)  # the close reaches the idle connection
        status, body = await get(transport, f"{url}/b")
    await transport.aclose()
    assert status == 200 and json.loads(body) == {"line": "GET /b HTTP/1.1"}
    assert seen.connections == 2


async def test_an_idle_connection_past_its_keepalive_is_not_reused():
    transport = PooledTransport(keepalive_expiry=0.1)
    async with peer(echo) as (url, seen):
        await get(transport, f"{url}/a")
        await anyio.sleep(0.2)
        await get(transport, f"{url}/b")
    await transport.aclose()
    assert seen.connections == 2


async def test_exchanges_wait_for_a_free_connection_and_time_out_unsent():
    release = anyio.Event()

    async def held(head: bytes, stream: ByteStream) -> bool:
        if b"/first" in head:
            await release.wait()
        await echo(head, stream)
        return True

    transport = PooledTransport(max_connections=1)
    async with peer(held) as (url, seen):
        async with anyio.create_task_group() as tg:
            tg.start_soon(get, transport, f"{url}/first")
            await anyio.sleep(0.1)
            with pytest.raises(httpx.ConnectTimeout) as failure:
                await get(transport, f"{url}/second", 0.1)
            release.set()
        # Once the first is answered, its connection serves the next one.
        assert (await get(transport, f"{url}/third"))[0] == 200
    await transport.aclose()
    assert not is_ambiguous(failure.value)
    assert [head.split(b" ")[1] for head, _ in seen.requests] == [b"/first", b"/third"]
    assert seen.connections == 1


async def test_a_cancelled_exchange_closes_its_connection_and_frees_its_slot():
    async def slow_first(head: bytes, stream: ByteStream) -> bool:
        if b"/slow" in head:
            await anyio.sleep(5)
        await echo(head, stream)
        return True

    transport = PooledTransport(max_connections=1)
    async with peer(slow_first) as (url, seen):
        with anyio.move_on_after(0.2) as scope:
            await get(transport, f"{url}/slow")
        assert scope.cancelled_caught
        with anyio.fail_after(2):
            assert (await get(transport, f"{url}/fast"))[0] == 200
    await transport.aclose()
    assert seen.connections == 2  # the half-read one was closed, not handed out again


async def test_an_answer_that_trickles_in_is_timed_per_read():
    async def trickle(head: bytes, stream: ByteStream) -> bool:
        await stream.send(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n")
        for byte in b"12345":
            await anyio.sleep(0.1)
            await stream.send(bytes([byte]))
        return True

    transport = PooledTransport()
    async with peer(trickle) as (url, _):
        # Half a second in all, never 0.3 s without a byte.
        assert await get(transport, f"{url}/a", 0.3) == (200, b"12345")
    await transport.aclose()


async def test_https_checks_the_certificate_on_the_direct_path():
    async with tls_peer() as (base, trusting):
        url = f"{base}/v1/providers"
        for verify in (trusting, False):
            transport = PooledTransport(verify=verify)
            status, body = await get(transport, url)
            await transport.aclose()
            assert (status, json.loads(body)) == (200, {"line": "GET /v1/providers HTTP/1.1"})
        transport = PooledTransport()  # certifi's authorities do not vouch for it
        with pytest.raises(httpx.ConnectError) as failure:
            await get(transport, url)
        await transport.aclose()
    assert not is_ambiguous(failure.value)


async def test_a_handshake_that_never_ends_times_out_unsent_and_frees_its_slot():
    async def mute(stream: SocketStream) -> None:  # accepts, then never answers the TLS hello
        async with stream:
            await anyio.sleep(5)

    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(SocketAttribute.local_port)
    transport = PooledTransport(max_connections=1)
    async with listener, anyio.create_task_group() as tg, peer(echo) as (url, _):
        tg.start_soon(listener.serve, mute)
        with pytest.raises(httpx.ConnectTimeout) as failure:
            await get(transport, f"https://127.0.0.1:{port}/v1/leases", 0.2)
        with anyio.fail_after(2):  # the only slot is free again
            assert (await get(transport, f"{url}/a"))[0] == 200
        tg.cancel_scope.cancel()
    await transport.aclose()
    assert not is_ambiguous(failure.value)


async def test_a_configured_proxy_is_used_for_direct_exchanges(monkeypatch: pytest.MonkeyPatch):
    async with peer(echo) as (proxy_url, via_proxy), peer(echo) as (direct_url, direct):
        monkeypatch.setenv("HTTP_PROXY", proxy_url)
        for name in ("NO_PROXY", "no_proxy"):
            monkeypatch.delenv(name, raising=False)
        transport = PooledTransport()
        await get(transport, f"{direct_url}/through")
        await transport.aclose()
    assert via_proxy.requests[0][0].startswith(f"GET {direct_url}/through ".encode())
    assert direct.requests == []


# -- hostile or broken answers -------------------------------------------------------------------


async def test_a_line_break_in_a_header_is_refused_before_anything_is_sent():
    transport = PooledTransport()
    async with peer(echo) as (url, seen):
        with pytest.raises(httpx.LocalProtocolError):
            await transport.exchange(
                "POST",
                f"{url}/v1/deployments",
                headers={"x-api-key": "k\r\nx-injected: 1"},
                content=b"{}",
                seconds=5,
            )
        with pytest.raises(httpx.LocalProtocolError):
            await get(transport, f"{url}/v1/bids?dseq=1 HTTP/1.1\r\nx-injected: 1")
    await transport.aclose()
    assert seen.connections == 0


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTX/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
        b"HTTP/1.1 2000 OK\r\ncontent-length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\nabc",
        b"HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n no-name\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ncontent-encoding: br\r\ncontent-length: 2\r\n\r\nab",
        b"HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ncontent-length: 2\r\n\r\nab",
        b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort",  # then the server closes
    ],
)
async def test_an_answer_that_is_not_http_is_an_ambiguous_protocol_error(answer):
    async def broken(head: bytes, stream: ByteStream) -> bool:
        await stream.send(answer)
        return False

    transport = PooledTransport()
    async with peer(broken) as (url, seen):
        with pytest.raises(httpx.RemoteProtocolError) as failure:
            await transport.exchange(
                "POST", f"{url}/v1/leases", headers={}, content=b"{}", seconds=5
            )
    await transport.aclose()
    assert len(seen.requests) == 1 and is_ambiguous(failure.value)


async def test_bodies_and_heads_past_the_limits_are_refused(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(_http11, "MAX_BODY", 1000)
    monkeypatch.setattr(_http11, "MAX_HEAD", 1000)
    bomb = gzip.compress(b"0" * 5000)  # small on the wire, over the limit once decoded
    answers = {
        b"/sized": respond("200 OK", b"x" * 1001),
        b"/endless": b"HTTP/1.1 200 OK\r\n\r\n" + b"x" * 1500,
        b"/chunks": b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
        + b"200\r\n"
        + b"x" * 512
        + b"\r\n"
        + b"200\r\n"
        + b"x" * 512
        + b"\r\n0\r\n\r\n",
        # chunk framing that never ends: the buffer is capped before the connection closes
        b"/flood": b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
        + b"fff\r\n"
        + b"x" * 2500,
        b"/bomb": respond("200 OK", bomb, "content-encoding: gzip"),
        b"/head": b"HTTP/1.1 200 OK\r\n" + b"x-filler: " + b"y" * 2000 + b"\r\n",
    }

    async def oversized(head: bytes, stream: ByteStream) -> bool:
        await stream.send(answers[head.split(b" ")[1]])
        await anyio.sleep(1)
        return False

    transport = PooledTransport()
    async with peer(oversized) as (url, _):
        for path in answers:
            with pytest.raises(httpx.RemoteProtocolError, match="over"):
                await get(transport, url + path.decode())
    await transport.aclose()


# -- the bytes of a request ----------------------------------------------------------------------


def test_urls_split_into_origin_and_target():
    assert split_url("http://127.0.0.1:3080/v1/bids?dseq=5") == (
        _http11.Origin("http", "127.0.0.1", 3080),
        "/v1/bids?dseq=5",
    )
    origin, target = split_url("HTTPS://Console-API.Akash.network?x=1#frag")
    assert (origin, target) == (_http11.Origin("https", "console-api.akash.network", 443), "/?x=1")
    assert origin.host_header == "console-api.akash.network"
    v6, _ = split_url("http://[::1]:8080/")
    assert (v6.host, v6.port, v6.host_header) == ("::1", 8080, "[::1]:8080")
    for bad in ("ftp://host/", "http:///path", "http://host:99999/", "http://u:p@host/", "host"):
        with pytest.raises(httpx.UnsupportedProtocol):
            split_url(bad)


def test_a_request_head_names_its_host_and_length():
    origin = _http11.Origin("http", "127.0.0.1", 3080)
    assert request_head("POST", "/v1/leases", origin, {"x-api-key": "k"}, b"{}") == (
        b"POST /v1/leases HTTP/1.1\r\nhost: 127.0.0.1:3080\r\nx-api-key: k\r\n"
        b"content-length: 2\r\n\r\n"
    )
    # A POST without a body says so; a GET says nothing of a body.
    assert b"content-length: 0\r\n" in request_head("POST", "/x", origin, {}, None)
    assert b"content-length" not in request_head("GET", "/x", origin, {}, None)
    assert request_head("GET", "/", origin, {"Host": "other"}, None).count(b"ost:") == 1


def test_heads_without_a_body_are_framed_empty():
    for status in (b"204 No Content", b"304 Not Modified"):
        head = parse_head(b"HTTP/1.1 " + status + b"\r\ncontent-length: 10", head_request=False)
        assert (head.length, head.chunked, head.keep_alive) == (0, False, True)
    head = parse_head(b"HTTP/1.1 200 OK\r\ncontent-length: 10", head_request=True)
    assert head.length == 0
    # Chunked wins over a length; no length and no chunks ends with the connection.
    head = parse_head(
        b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\ntransfer-encoding: chunked", head_request=False
    )
    assert (head.length, head.chunked) == (None, True)
    head = parse_head(b"HTTP/1.1 200 OK", head_request=False)
    assert (head.length, head.keep_alive) == (None, False)
    with pytest.raises(Malformed):
        parse_head(b"HTTP/2 200 OK", head_request=False)
