"""Raw HTTP/1.1 peers on 127.0.0.1 for transport tests: each answers (or misbehaves) as told.

Each peer is a raw TCP server that reads one HTTP/1.1 request at a time and hands its head to a
``reply`` function, so that the bytes on the wire and every failure mode are real.
"""

from __future__ import annotations

import gzip
import json
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
import trustme
from anyio.abc import ByteStream, Listener, SocketAttribute, SocketStream
from anyio.streams.tls import TLSListener, TLSStream

__all__ = ["Reply", "Seen", "echo", "peer", "read_request", "respond", "tls_peer"]


@dataclass
class Seen:
    """What a peer received: one raw request head and body per request, and its connections."""

    requests: list[tuple[bytes, bytes]] = field(default_factory=list)
    connections: int = 0


Reply = Callable[[bytes, ByteStream], Awaitable[bool]]  # head -> keep the connection open?


async def read_request(stream: ByteStream, buffer: bytearray) -> tuple[bytes, bytes] | None:
    while b"\r\n\r\n" not in buffer:
        try:
            buffer.extend(await stream.receive())
        except (anyio.EndOfStream, anyio.BrokenResourceError):
            return None
    head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    buffer[:] = rest
    while len(buffer) < length:
        buffer.extend(await stream.receive())
    body = bytes(buffer[:length])
    del buffer[:length]
    return head, body


def respond(status: str, body: bytes = b"", *headers: str) -> bytes:
    lines = [f"HTTP/1.1 {status}", f"content-length: {len(body)}", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@asynccontextmanager
async def peer(reply: Reply) -> AsyncIterator[tuple[str, Seen]]:
    """A raw HTTP/1.1 server on 127.0.0.1 whose answers ``reply`` writes."""
    seen = Seen()

    async def handle(stream: SocketStream) -> None:
        seen.connections += 1
        buffer = bytearray()
        async with stream:
            while (request := await read_request(stream, buffer)) is not None:
                seen.requests.append(request)
                if not await reply(request[0], stream):
                    return

    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(SocketAttribute.local_port)
    async with _serving(listener, handle):
        yield f"http://127.0.0.1:{port}", seen


@asynccontextmanager
async def _serving(
    listener: Listener[Any], handle: Callable[[Any], Awaitable[None]]
) -> AsyncIterator[None]:
    """``listener`` serving each connection with ``handle`` until the block ends."""
    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, handle)
        try:
            yield
        finally:
            tg.cancel_scope.cancel()


async def echo(head: bytes, stream: ByteStream) -> bool:
    """200 with the request line, gzip-compressed, and a reason phrase of its own."""
    payload = gzip.compress(json.dumps({"line": head.split(b"\r\n")[0].decode()}).encode())
    await stream.send(
        respond("200 Fine", payload, "content-type: application/json", "content-encoding: gzip")
    )
    return True


@asynccontextmanager
async def tls_peer() -> AsyncIterator[tuple[str, ssl.SSLContext]]:
    """An HTTPS peer on 127.0.0.1 that answers as :func:`echo` does, its certificate issued by a
    throwaway authority; yields its base URL and a client context that trusts that authority."""
    authority = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(server_context)
    trusting = ssl.create_default_context()
    authority.configure_trust(trusting)
    tcp = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = tcp.extra(SocketAttribute.local_port)
    listener = TLSListener(tcp, server_context, standard_compatible=False)

    async def handle(stream: TLSStream) -> None:
        buffer = bytearray()
        async with stream:
            while (request := await read_request(stream, buffer)) is not None:
                await echo(request[0], stream)

    async with _serving(listener, handle):
        yield f"https://127.0.0.1:{port}", trusting
