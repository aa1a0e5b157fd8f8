"""An httpx transport over aiohttp's connection pool, for bursts of small API calls.

httpcore (httpx's default transport) rescans every pooled connection, asking each socket whether
it is readable, whenever a request is queued or released. With a hundred connections and
hundreds of deployments in flight that scan costs more CPU than the requests themselves (about
2 ms of client CPU per Console call, against under 1 ms through aiohttp's pool), and the client,
not the marketplace, becomes the bottleneck. This transport keeps httpx's API (requests,
responses, event hooks, timeouts) and hands the wire to aiohttp.

The Console backend's own calls skip httpx altogether (:meth:`PooledTransport.exchange`): they go
out on this transport's own HTTP/1.1 connections (:mod:`._wire`, about 60 µs of CPU a call less
than aiohttp's client), or through aiohttp when a proxy is configured for the host.

Failures come back as httpx exceptions, chosen so that :func:`~._errors.is_ambiguous` stays
truthful: ``ConnectError``/``ConnectTimeout``/``PoolTimeout`` only when the request cannot have
left this process, anything after that (a reset, a read timeout, a short body) as a read error,
because a non-idempotent call such as creating a deployment may then have run.

aiohttp runs on asyncio only; under another event loop (trio through anyio) the transport hands
every request to httpx's own transport instead. Proxies come from the environment
(``HTTPS_PROXY``, ``NO_PROXY``), as with httpx. HTTP/2 and request streaming are not offered:
Console calls are small JSON bodies.

aiohttp is imported only when a request goes through it (a proxy, or httpx's request API): its
import costs a quarter of a second of CPU, which every process's first Console call would
otherwise pay, a worker's first burst included.
"""

from __future__ import annotations

import asyncio  # noqa: TID251 -- aiohttp sessions belong to one asyncio loop
import functools
import ssl
import urllib.request
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING

import httpx
import sniffio

from minds371_akash.market._http11 import split_url
from minds371_akash.market._wire import Exchange, WirePool

if TYPE_CHECKING:
    import aiohttp

__all__ = ["Exchange", "PooledTransport"]

# Below the usual server keep-alive (uvicorn 5 s, nginx 75 s): a connection the server is about
# to drop is not handed out again.
_KEEPALIVE_SECONDS = 4.0


class _AiohttpBody(httpx.AsyncByteStream):
    """A response body read from aiohttp; closing it returns the connection to the pool."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response

    async def __aiter__(self) -> AsyncIterator[bytes]:
        import aiohttp

        try:
            async for chunk in self._response.content.iter_any():
                yield chunk
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _after_sending(exc) from exc

    async def aclose(self) -> None:
        # A fully read body has already freed its connection; a partial one closes it. (The
        # result is awaitable in every aiohttp release, a coroutine in some.)
        await self._response.release()


class PooledTransport(httpx.AsyncBaseTransport):
    """HTTP/1.1 through one aiohttp session per event loop (see module docs).

    Args:
        verify: ``True`` (certifi's CAs), ``False``, or an SSL context.
        max_connections: Connections open at once; more requests wait for one.
        keepalive_expiry: Seconds an idle connection is kept for reuse.
    """

    def __init__(
        self,
        *,
        verify: ssl.SSLContext | bool = True,
        max_connections: int = 100,
        keepalive_expiry: float = _KEEPALIVE_SECONDS,
    ) -> None:
        self._verify = verify
        self._limits = httpx.Limits(
            max_connections=max_connections, keepalive_expiry=keepalive_expiry
        )
        self._session: aiohttp.ClientSession | None = None
        self._wire: WirePool | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._fallback: httpx.AsyncHTTPTransport | None = None
        # Read once: aiohttp's own ``trust_env`` looks for proxies and ~/.netrc in a worker
        # thread on every request.
        self._proxies = urllib.request.getproxies()
        self._proxy_by_host: dict[tuple[str, str], str | None] = {}

    def _session_here(self) -> aiohttp.ClientSession:
        import aiohttp

        loop = asyncio.get_running_loop()
        # A session belongs to the loop it was made in. A transport used again from a new loop
        # (a second ``anyio.run``) gets a new session; the old loop's connections went with it.
        if self._session is None or self._loop is not loop or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=self._limits.max_connections or 0,
                limit_per_host=0,
                keepalive_timeout=self._limits.keepalive_expiry,
                ssl=self._ssl_context(),
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                auto_decompress=False,  # httpx decodes the body itself
                cookie_jar=aiohttp.DummyCookieJar(),  # httpx keeps the cookies
                timeout=aiohttp.ClientTimeout(total=None),
            )
            self._loop = loop
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send one request and return the response with its body still to be read."""
        if not self.runs_here():
            if self._fallback is None:
                self._fallback = httpx.AsyncHTTPTransport(verify=self._verify, limits=self._limits)
            return await self._fallback.handle_async_request(request)
        import aiohttp
        from yarl import URL

        session = self._session_here()
        body = await request.aread()
        # The body is whole now, so it goes out with a Content-Length, never chunked.
        headers = [
            (name, value)
            for name, value in request.headers.multi_items()
            if name.lower() != "transfer-encoding"
        ]
        try:
            response = await session.request(
                request.method,
                URL(str(request.url), encoded=True),
                headers=headers,
                data=body or None,
                allow_redirects=False,  # httpx follows redirects itself, when asked
                auto_decompress=False,
                proxy=self._proxy_of(request.url.scheme, request.url.host),
                timeout=_timeout(request.extensions.get("timeout", {})),
            )
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _translate(exc) from exc
        extensions: dict[str, object] = {"http_version": b"HTTP/1.1"}
        if response.reason:
            extensions["reason_phrase"] = response.reason.encode("ascii", "replace")
        return httpx.Response(
            response.status,
            headers=response.raw_headers,
            stream=_AiohttpBody(response),
            request=request,
            extensions=extensions,
        )

    def runs_here(self) -> bool:
        """Whether :meth:`exchange` can serve the current event loop (asyncio, not trio)."""
        return sniffio.current_async_library() == "asyncio"

    async def exchange(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        content: bytes | None,
        seconds: float,
    ) -> Exchange:
        """Send one small request and read its whole answer, without httpx's objects.

        Asyncio only: check :meth:`runs_here` first. A Console poll through
        ``httpx.AsyncClient`` spends about twice the CPU of the exchange itself on building,
        hooking and decoding those objects; a backend that owns this transport and needs none
        of it calls here. The request goes out on this transport's own connections
        (:mod:`._wire`), or through aiohttp when a proxy is configured for its host. Failures
        are the same httpx exceptions as :meth:`handle_async_request` raises. Compressed
        answers (gzip, deflate) are decoded.

        Args:
            method: The HTTP method.
            url: The full URL, already percent-encoded.
            headers: Request headers (``Content-Length`` is set from ``content``).
            content: The request body, if any.
            seconds: Time allowed for each of: a pooled connection or a new one, and each
                read.
        """
        origin, target = split_url(url)
        proxy = self._proxy_of(origin.scheme, origin.host)
        if proxy is None:
            return await self._wire_here().exchange(
                method, origin, target, headers=headers, content=content, seconds=seconds
            )
        import aiohttp
        from yarl import URL

        session = self._session_here()
        try:
            async with session.request(
                method,
                URL(url, encoded=True),
                headers=headers,
                data=content,
                allow_redirects=False,
                auto_decompress=True,
                proxy=proxy,
                timeout=_flat_timeout(seconds),
            ) as response:
                try:
                    body = await response.read()
                except (aiohttp.ClientError, TimeoutError) as exc:
                    raise _after_sending(exc) from exc
                return Exchange(
                    response.status, response.reason or "", tuple(response.raw_headers), body
                )
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _translate(exc) from exc

    def _wire_here(self) -> WirePool:
        """This loop's pool of direct connections (a new loop gets a new pool, like a session)."""
        loop = asyncio.get_running_loop()
        wire = self._wire
        if wire is None or wire.loop is not loop:
            wire = self._wire = WirePool(
                loop,
                ssl_context=self._ssl_context,
                max_connections=self._limits.max_connections or 100,
                keepalive_expiry=self._limits.keepalive_expiry or _KEEPALIVE_SECONDS,
            )
        return wire

    def _ssl_context(self) -> ssl.SSLContext:
        """The TLS context ``verify`` asks for (both pools use it)."""
        if isinstance(self._verify, ssl.SSLContext):
            return self._verify
        if self._verify is False:
            return _unverified_context()
        return _verified_context()

    def _proxy_of(self, scheme: str, host: str) -> str | None:
        """The proxy for ``scheme://host`` (``*_PROXY`` variables) unless ``NO_PROXY`` skips it."""
        key = (scheme, host)
        if key not in self._proxy_by_host:
            proxy = self._proxies.get(scheme) or self._proxies.get("all")
            if proxy and urllib.request.proxy_bypass(host):
                proxy = None
            self._proxy_by_host[key] = proxy
        return self._proxy_by_host[key]

    async def aclose(self) -> None:
        """Close the pooled connections (the current loop's) and the fallback."""
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None
        if self._wire is not None:
            await self._wire.aclose()
            self._wire = None
        if self._fallback is not None:
            await self._fallback.aclose()
            self._fallback = None


@functools.cache
def _verified_context() -> ssl.SSLContext:
    """Httpx's default context (certifi's authorities), built once: loading them takes ~40 ms."""
    return httpx.create_ssl_context()


@functools.cache
def _unverified_context() -> ssl.SSLContext:
    """TLS without checking the certificate or host name (``verify=False``)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _timeout(timeout: Mapping[str, float | None]) -> aiohttp.ClientTimeout:
    import aiohttp

    pool, connect = timeout.get("pool"), timeout.get("connect")
    # aiohttp's ``connect`` covers the wait for a pooled connection and the connect itself.
    whole = None if pool is None and connect is None else (pool or 0.0) + (connect or 0.0)
    return aiohttp.ClientTimeout(
        total=None, connect=whole, sock_connect=connect, sock_read=timeout.get("read")
    )


@functools.lru_cache(maxsize=64)
def _flat_timeout(seconds: float) -> aiohttp.ClientTimeout:
    """One timeout for the connection (pooled or new) and for each read, kept per value."""
    import aiohttp

    return aiohttp.ClientTimeout(
        total=None, connect=2 * seconds, sock_connect=seconds, sock_read=seconds
    )


def _translate(exc: BaseException) -> httpx.HTTPError:
    """An aiohttp failure raised before a response arrived, as the httpx exception it means."""
    import aiohttp

    message = str(exc) or type(exc).__name__
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        # No connection (a free pool slot or the TCP/TLS handshake) within the time allowed.
        return httpx.ConnectTimeout(message)
    if isinstance(exc, aiohttp.ClientProxyConnectionError | aiohttp.ClientHttpProxyError):
        return httpx.ProxyError(message)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return httpx.ConnectError(message)
    if isinstance(exc, aiohttp.InvalidUrlClientError):
        return httpx.UnsupportedProtocol(message)
    return _after_sending(exc)


def _after_sending(exc: BaseException) -> httpx.HTTPError:
    """A failure once the request may have reached the server: never a "not sent" error."""
    import aiohttp

    message = str(exc) or type(exc).__name__
    if isinstance(exc, TimeoutError):
        return httpx.ReadTimeout(message)
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError):
        return httpx.RemoteProtocolError(message)
    return httpx.ReadError(message)
