"""HTTP/1.1 on the byte level: a request's head, and an answer's head and body read from bytes.

Pure functions, no I/O: :mod:`._wire` feeds them what its connections receive. Framing follows
RFC 9112: a chunked body's own framing wins over a ``Content-Length``; an answer with neither
ends with the connection; ``HEAD``, ``204`` and ``304`` answers have no body. Limits keep a
hostile server from filling the memory: a head over 64 KiB, a body over 32 MiB (once decoded)
is :class:`Malformed`.
"""

from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Mapping

import httpx

__all__ = [
    "MAX_BODY",
    "MAX_HEAD",
    "AnswerHead",
    "Malformed",
    "Origin",
    "decoded",
    "head_end",
    "parse_head",
    "read_body",
    "request_head",
    "split_url",
]

MAX_HEAD = 64 * 1024
MAX_BODY = 32 * 1024 * 1024
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Methods whose request carries a body by meaning: sent with ``Content-Length: 0`` when empty.
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class Malformed(Exception):
    """The peer's bytes are not an HTTP/1.1 answer that can be read."""


@dataclasses.dataclass(frozen=True, slots=True)
class Origin:
    """Where a request goes: ``scheme://host:port``."""

    scheme: str
    host: str
    port: int

    @property
    def host_header(self) -> str:
        """The ``Host`` header's value (the port only when it is not the scheme's)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == _DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"


@dataclasses.dataclass(frozen=True, slots=True)
class AnswerHead:
    """An answer's status line and headers, with what they say about its body.

    ``length`` is ``None`` when the body is chunked or ends with the connection.
    """

    status: int
    reason: str
    headers: tuple[tuple[bytes, bytes], ...]
    length: int | None
    chunked: bool
    keep_alive: bool
    encoding: bytes


def split_url(url: str) -> tuple[Origin, str]:
    """``scheme://host[:port]/path?query`` as its origin and request target.

    Raises:
        httpx.UnsupportedProtocol: not an http(s) URL with a host, or credentials in it.
    """
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in _DEFAULT_PORTS:
        raise httpx.UnsupportedProtocol(f"not an http(s) URL: {url[:80]!r}")
    end = len(rest)
    for mark in "/?#":
        at = rest.find(mark)
        if 0 <= at < end:
            end = at
    authority, target = rest[:end], rest[end:].partition("#")[0]
    if "@" in authority:
        raise httpx.UnsupportedProtocol("credentials in a URL are not sent")
    if authority.startswith("["):
        host, _, tail = authority[1:].partition("]")
        port_text = tail[1:] if tail.startswith(":") else tail
    else:
        host, _, port_text = authority.partition(":")
    if not port_text:
        port = _DEFAULT_PORTS[scheme]
    elif port_text.isdigit() and 0 < int(port_text) < 65536:
        port = int(port_text)
    else:
        raise httpx.UnsupportedProtocol(f"bad port in {url[:80]!r}")
    if not host:
        raise httpx.UnsupportedProtocol(f"no host in {url[:80]!r}")
    if not target.startswith("/"):
        target = "/" + target
    return Origin(scheme, host.lower(), port), target


def request_head(
    method: str, target: str, origin: Origin, headers: Mapping[str, str], content: bytes | None
) -> bytes:
    """A request's head: the request line, ``Host``, the headers, ``Content-Length``.

    Raises:
        httpx.LocalProtocolError: a control character (a line break could write a header, or a
            request, of its own) or a character beyond Latin-1 in the line or a header.
    """
    if not (method + target + "".join(headers) + "".join(headers.values())).isprintable():
        raise httpx.LocalProtocolError("a control character in the request line or a header")
    lines = [f"{method} {target} HTTP/1.1"]
    if not any(name.lower() == "host" for name in headers):
        lines.append(f"host: {origin.host_header}")
    lines.extend(f"{name}: {value}" for name, value in headers.items())
    if content is not None or method in _BODY_METHODS:
        lines.append(f"content-length: {len(content or b'')}")
    try:
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    except UnicodeEncodeError:
        raise httpx.LocalProtocolError("a character beyond Latin-1 in a header") from None


def head_end(buffer: bytearray, *, eof: bool) -> int | None:
    """Where the answer's head in ``buffer`` ends (its empty line), or None while incomplete.

    Raises:
        Malformed: the head is over 64 KiB, or the connection closed inside it.
    """
    end = buffer.find(b"\r\n\r\n")
    if end >= 0:
        return end
    if len(buffer) > MAX_HEAD:
        raise Malformed("the answer's head is over 64 KiB")
    if eof and buffer:
        raise Malformed("the connection closed inside the answer's head")
    return None


def parse_head(raw: bytes, *, head_request: bool) -> AnswerHead:
    """An answer's head (the bytes before the empty line).

    Raises:
        Malformed: not an HTTP/1.x status line, a header line without a name, a bad or
            conflicting ``Content-Length``, a transfer coding other than chunked.
    """
    lines = raw.split(b"\r\n")
    status, reason, keep_alive = _status_line(lines[0])
    headers: list[tuple[bytes, bytes]] = []
    length: int | None = None
    chunked = False
    encoding = b""
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon or not name or name != name.strip():
            raise Malformed(f"not a header line: {line[:60]!r}")
        value = value.strip()
        headers.append((name, value))
        lowered = name.lower()
        if lowered == b"content-length":
            if not value.isdigit() or (length is not None and int(value) != length):
                raise Malformed(f"bad Content-Length: {value[:30]!r}")
            length = int(value)
            if length > MAX_BODY:
                raise Malformed("the answer's body is over 32 MiB")
        elif lowered == b"transfer-encoding":
            chunked = value.lower().rsplit(b",", 1)[-1].strip() == b"chunked"
            if not chunked:
                raise Malformed(f"unsupported Transfer-Encoding: {value[:30]!r}")
        elif lowered == b"connection":
            tokens = {token.strip() for token in value.lower().split(b",")}
            if b"close" in tokens:
                keep_alive = False
            elif b"keep-alive" in tokens:
                keep_alive = True
        elif lowered == b"content-encoding":
            encoding = value.lower()
    if head_request or status in (204, 304):
        length, chunked = 0, False
    elif chunked:
        length = None  # the chunked framing wins over a length (RFC 9112 §6.3)
    if length is None and not chunked:
        keep_alive = False  # the body ends with the connection
    return AnswerHead(status, reason, tuple(headers), length, chunked, keep_alive, encoding)


def _status_line(line: bytes) -> tuple[int, str, bool]:
    """Status, reason, and whether the version keeps the connection open by default."""
    version, _, rest = line.partition(b" ")
    status_text, _, reason = rest.partition(b" ")
    if version not in (b"HTTP/1.1", b"HTTP/1.0") or not (
        len(status_text) == 3 and status_text.isdigit()
    ):
        raise Malformed(f"not an HTTP/1.1 status line: {line[:60]!r}")
    return int(status_text), reason.decode("latin-1"), version == b"HTTP/1.1"


def read_body(
    buffer: bytearray, start: int, head: AnswerHead, *, eof: bool
) -> tuple[bytes, bool] | None:
    """The body that starts at ``buffer[start]``, and whether nothing follows it.

    ``None`` while it is incomplete. ``eof``: the connection has closed, so what arrived is
    all there will be.

    Raises:
        Malformed: the connection closed inside the body, bad chunk framing, over 32 MiB.
    """
    size = len(buffer) - start
    if size > 2 * MAX_BODY:  # the chunks' own framing counted generously
        raise Malformed("the answer's body is over 32 MiB")
    if head.chunked:
        # A chunked body ends with an empty line: until the buffer does, it cannot be whole.
        whole = _dechunk(buffer, start) if buffer.endswith(b"\r\n") else None
        if whole is None:
            if eof:
                raise Malformed("the connection closed inside a chunked body")
            return None
        body, end = whole
        return body, end == len(buffer)
    if head.length is not None:
        if size < head.length:
            if eof:
                raise Malformed("the connection closed before the whole body arrived")
            return None
        return bytes(buffer[start : start + head.length]), size == head.length
    if size > MAX_BODY:
        raise Malformed("the answer's body is over 32 MiB")
    return (bytes(buffer[start:]), True) if eof else None


def _dechunk(buffer: bytearray, start: int) -> tuple[bytes, int] | None:
    """A whole chunked body from ``buffer[start:]`` and where it ends, or None if incomplete."""
    parts: list[bytes] = []
    at = start
    total = 0
    while True:
        line_end = buffer.find(b"\r\n", at)
        if line_end < 0:
            return None
        size_text = bytes(buffer[at:line_end]).partition(b";")[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise Malformed(f"bad chunk size: {size_text[:20]!r}") from None
        at = line_end + 2
        if size == 0:
            # Trailer fields, if any, end with an empty line.
            end = buffer.find(b"\r\n\r\n", at - 2)
            if end < 0:
                return None
            return b"".join(parts), end + 4
        total += size
        if size < 0 or total > MAX_BODY:
            raise Malformed("the answer's body is over 32 MiB")
        if len(buffer) < at + size + 2:
            return None
        parts.append(bytes(buffer[at : at + size]))
        if buffer[at + size : at + size + 2] != b"\r\n":
            raise Malformed("a chunk does not end where its size says")
        at += size + 2


def decoded(body: bytes, encoding: bytes) -> bytes:
    """``body`` decoded from its ``Content-Encoding`` (gzip, deflate, identity).

    Raises:
        Malformed: another coding, a body that is not what it says, over 32 MiB decoded.
    """
    if encoding in (b"", b"identity"):
        return body
    if encoding not in (b"gzip", b"x-gzip", b"deflate"):
        raise Malformed(f"unsupported Content-Encoding: {encoding[:30]!r}")
    # 47 takes a gzip or a zlib header; a bare deflate stream (some servers send one) needs -15.
    for wbits in (47, -15):
        inflater = zlib.decompressobj(wbits)
        try:
            out = inflater.decompress(body, MAX_BODY)
        except zlib.error:
            continue
        if inflater.unconsumed_tail:
            raise Malformed("the answer's body is over 32 MiB once decoded")
        if not inflater.eof:
            raise Malformed(f"the {encoding.decode('latin-1')} body is cut short")
        return out
    raise Malformed(f"the body is not valid {encoding.decode('latin-1')}")
