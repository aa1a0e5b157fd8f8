"""HTTP/1.1 exchanges on asyncio connections kept per origin: the Console backend's fast path.

A Console call is one small JSON request and one small answer. Through aiohttp's client each
costs about 140 µs of client CPU, most of it in objects the call never uses (a request and
response object, a cookie jar, trace hooks, a timer per phase, a stream reader). Here a call is
one write and one parse on a connection protocol: the answer is read whole in
``data_received``, and the task is woken once.

What it keeps of a full client, because a money-spending caller relies on it:

* **"Did the request leave?"** A failure to get a connection (refused, unresolvable, a TLS
  certificate not trusted, no free connection in time) is ``httpx.ConnectError`` or
  ``httpx.ConnectTimeout``: nothing was sent. Anything after the first byte was written (a
  reset, a close, a read timeout, an answer that is not HTTP) is a read or protocol error, so
  :func:`~._errors.is_ambiguous` says a non-idempotent call may have run.
* **Connections** are pooled per origin, at most ``max_connections`` open at once, an idle one
  kept ``keepalive_expiry`` seconds. One the server closed while idle is noticed (its
  ``connection_lost``) and never handed out again; a cancelled or failed exchange closes its
  connection instead of returning it half-read.
* **Answers**: a ``Content-Length`` body, a chunked one, or one that ends with the connection;
  interim ``1xx`` answers are skipped; gzip and deflate bodies are decoded. Heads over 64 KiB and
  bodies over 32 MiB (decoded) are refused, so a hostile server cannot fill the memory.
* **TLS** with the context given (certificate and host name checked unless verification is off).

Proxies are not spoken here: :class:`~._pooled_transport.PooledTransport` sends a request that
goes through a proxy with aiohttp. HTTP/2, request streaming and redirects are not offered:
Console calls need none of them. Asyncio only, like aiohttp (the transport checks the loop).
"""

from __future__ import annotations

import asyncio  # noqa: TID251 -- a protocol on the running asyncio loop, like aiohttp's
import collections
import dataclasses
import ssl
from collections.abc import Callable, Mapping

import httpx

from minds371_akash.market._http11 import (
    AnswerHead,
    Malformed,
    Origin,
    decoded,
    head_end,
    parse_head,
    read_body,
    request_head,
)

__all__ = ["Exchange", "WirePool"]


@dataclasses.dataclass(frozen=True, slots=True)
class Exchange:
    """One request's answer, read whole: status, reason, raw headers and the decoded body."""

    status: int
    reason: str
    headers: tuple[tuple[bytes, bytes], ...]
    content: bytes

    def as_response(self, method: str, url: str) -> httpx.Response:
        """The answer as an httpx response (for error mapping written against httpx)."""
        return httpx.Response(
            self.status,
            headers=self.headers,
            content=self.content,
            request=httpx.Request(method, url),
            extensions={"reason_phrase": self.reason.encode("ascii", "replace")},
        )


class _Connection(asyncio.Protocol):
    """One connection: writes a request, reads its answer whole, then waits for the next."""

    def __init__(self, pool: WirePool, origin: Origin) -> None:
        self.pool = pool
        self.origin = origin
        self.transport: asyncio.Transport | None = None
        self.idle_since = 0.0
        self.closed = False
        self._buffer = bytearray()
        self._head: AnswerHead | None = None
        self._body_at = 0
        self._waiter: asyncio.Future[Exchange] | None = None
        self._keep = True
        self._head_request = False
        self._last_data = 0.0
        self._timer: asyncio.TimerHandle | None = None

    # -- asyncio.Protocol ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        waiter = self._waiter
        if waiter is None or waiter.done():
            self.abort()  # bytes nobody asked for: it cannot carry another request
            return
        self._last_data = self.pool.loop.time()
        try:
            answer = self._answer(eof=False)
        except Malformed as exc:
            self._fail(httpx.RemoteProtocolError(str(exc)))
            return
        if answer is not None:
            self._waiter = None
            waiter.set_result(answer)

    def eof_received(self) -> bool:
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.pool._gone(self)
        waiter, self._waiter = self._waiter, None
        if waiter is None or waiter.done():
            return
        try:
            answer = self._answer(eof=True)
        except Malformed as malformed:
            waiter.set_exception(httpx.RemoteProtocolError(str(malformed)))
            return
        if answer is not None:
            waiter.set_result(answer)
        elif exc is None:
            waiter.set_exception(
                httpx.RemoteProtocolError("the server closed the connection without an answer")
            )
        else:
            waiter.set_exception(httpx.ReadError(str(exc) or type(exc).__name__))

    # -- one exchange --------------------------------------------------------------------------

    def send(self, head: bytes, content: bytes | None, *, head_request: bool) -> None:
        """Write one request; its answer comes to :meth:`answer`."""
        assert self.transport is not None, "not connected"
        assert self._waiter is None, "an exchange is in flight"
        self._buffer.clear()
        self._head = None
        self._head_request = head_request
        self._waiter = self.pool.loop.create_future()
        self._last_data = self.pool.loop.time()
        self.transport.write(head + content if content else head)

    async def answer(self, seconds: float) -> Exchange:
        """The answer to the request just sent; at most ``seconds`` between its bytes."""
        waiter = self._waiter
        assert waiter is not None, "nothing was sent"
        loop = self.pool.loop

        def check() -> None:
            if waiter.done():
                return
            quiet = loop.time() - self._last_data
            if quiet < seconds:
                self._timer = loop.call_later(seconds - quiet, check)
                return
            self._fail(httpx.ReadTimeout(f"no answer for {seconds:g} s"))

        self._timer = loop.call_later(seconds, check)
        try:
            return await waiter
        finally:
            self._timer.cancel()

    def reusable(self) -> bool:
        """Whether it can carry another request (open, its last answer read exactly)."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return False
        return self._keep and not self.closed

    def abort(self) -> None:
        """Close now, whatever is in flight; its slot in the pool is free at once."""
        self._keep = False
        self.pool._gone(self)
        if self.transport is not None and not self.closed:
            self.transport.abort()

    def _fail(self, error: httpx.HTTPError) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)
        self.abort()

    def _answer(self, *, eof: bool) -> Exchange | None:
        """The answer, once what arrived holds all of it (``eof``: nothing more will come)."""
        buffer = self._buffer
        while self._head is None:
            end = head_end(buffer, eof=eof)
            if end is None:
                return None
            head = parse_head(bytes(buffer[:end]), head_request=self._head_request)
            if 100 <= head.status < 200:  # interim (100 Continue, 103 Early Hints): skipped
                del buffer[: end + 4]
                continue
            self._head, self._body_at = head, end + 4
        head = self._head
        read = read_body(buffer, self._body_at, head, eof=eof)
        if read is None:
            return None
        body, exact = read
        # Bytes past the answer, or a server that closes: never reuse what cannot be read.
        self._keep = self._keep and exact and head.keep_alive
        if head.encoding:
            body = decoded(body, head.encoding)
        return Exchange(head.status, head.reason, head.headers, body)


class WirePool:
    """Connections per origin on one asyncio loop; :meth:`exchange` sends one request on one.

    Args:
        loop: The loop the connections belong to.
        ssl_context: Makes the TLS context for ``https`` origins, at the first one (loading a
            certificate store costs tens of milliseconds that plain ``http`` never needs).
        max_connections: Connections open at once (idle ones included); more requests wait.
        keepalive_expiry: Seconds an idle connection is kept for reuse.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        *,
        ssl_context: Callable[[], ssl.SSLContext],
        max_connections: int,
        keepalive_expiry: float,
    ) -> None:
        self.loop = loop
        self._ssl = ssl_context
        self._limit = max(1, max_connections)
        self._keepalive = keepalive_expiry
        self._idle: dict[Origin, list[_Connection]] = {}
        self._open = 0
        self._all: set[_Connection] = set()
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._closed = False

    async def exchange(
        self,
        method: str,
        origin: Origin,
        target: str,
        *,
        headers: Mapping[str, str],
        content: bytes | None,
        seconds: float,
    ) -> Exchange:
        """Send one request and read its whole answer (see module docs for the failures).

        Args:
            method: The HTTP method.
            origin: Where it goes, and ``target`` what it asks for there: a URL as
                :func:`~._http11.split_url` splits it (already percent-encoded).
            target: The request target (path and query).
            headers: Request headers (``Host`` and ``Content-Length`` are added).
            content: The request body, if any.
            seconds: Time allowed for a connection (pooled or new) and for each read.
        """
        head = request_head(method, target, origin, headers, content)
        connection = await self._connection(origin, seconds)
        try:
            connection.send(head, content, head_request=method == "HEAD")
            answer = await connection.answer(seconds)
        except BaseException:
            connection.abort()
            raise
        self._release(connection)
        return answer

    async def _connection(self, origin: Origin, seconds: float) -> _Connection:
        reused = self._pooled(origin)
        if reused is not None:
            return reused
        try:
            async with asyncio.timeout(2 * seconds):
                while self._open >= self._limit:
                    if not self._close_one_idle():
                        waiter = self.loop.create_future()
                        self._waiters.append(waiter)
                        try:
                            await waiter
                        except BaseException:
                            if waiter.done() and not waiter.cancelled():
                                self._wake()  # woken, but leaving: the next in line goes
                            else:
                                waiter.cancel()
                            raise
                    reused = self._pooled(origin)
                    if reused is not None:
                        return reused
                return await self._connect(origin, seconds)
        except TimeoutError:
            raise httpx.ConnectTimeout(f"no connection to {origin.host_header} in time") from None

    async def _connect(self, origin: Origin, seconds: float) -> _Connection:
        if self._closed:
            raise httpx.ConnectError("the connection pool is closed")
        self._open += 1
        made: list[_Connection] = []

        def connection() -> _Connection:
            # Counted from the start: one made just as the caller is cancelled is closed below,
            # not left open and untracked.
            made.append(_Connection(self, origin))
            self._all.add(made[0])
            return made[0]

        tls = self._ssl() if origin.scheme == "https" else None
        try:
            await asyncio.wait_for(
                self.loop.create_connection(
                    connection,
                    origin.host,
                    origin.port,
                    ssl=tls,
                    server_hostname=origin.host if tls is not None else None,
                ),
                seconds,
            )
        except BaseException as exc:
            if made:
                made[0].abort()  # frees its slot
            else:
                self._slot_freed()
            if isinstance(exc, TimeoutError):
                raise httpx.ConnectTimeout(
                    f"connecting to {origin.host_header} timed out"
                ) from None
            if isinstance(exc, OSError):  # refused, unreachable, unresolvable, untrusted (TLS)
                raise httpx.ConnectError(str(exc) or type(exc).__name__) from exc
            raise
        return made[0]

    def _pooled(self, origin: Origin) -> _Connection | None:
        idle = self._idle.get(origin)
        if not idle:
            return None
        oldest_kept = self.loop.time() - self._keepalive
        while idle:
            connection = idle.pop()  # the most recently used: the least likely to be closed
            if connection.reusable() and connection.idle_since > oldest_kept:
                return connection
            connection.abort()
        return None

    def _close_one_idle(self) -> bool:
        """Close the longest-idle connection of any origin, to free its slot."""
        oldest: _Connection | None = None
        for idle in self._idle.values():
            if idle and (oldest is None or idle[0].idle_since < oldest.idle_since):
                oldest = idle[0]
        if oldest is None:
            return False
        self._idle[oldest.origin].remove(oldest)
        oldest.abort()
        return True

    def _release(self, connection: _Connection) -> None:
        if not connection.reusable() or self._closed:
            connection.abort()
            return
        connection.idle_since = self.loop.time()
        self._idle.setdefault(connection.origin, []).append(connection)
        self._wake()

    def _gone(self, connection: _Connection) -> None:
        """A connection closed (by either side): its slot is free."""
        if connection in self._all:
            self._all.discard(connection)
            idle = self._idle.get(connection.origin)
            if idle and connection in idle:
                idle.remove(connection)
            self._slot_freed()

    def _slot_freed(self) -> None:
        self._open -= 1
        self._wake()

    def _wake(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    async def aclose(self) -> None:
        """Close every connection; exchanges in flight fail as read errors."""
        self._closed = True
        for connection in list(self._all):
            connection.abort()
        self._idle.clear()
        await asyncio.sleep(0)  # let the transports run their connection_lost
