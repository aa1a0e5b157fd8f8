"""A content store on an IPFS node's RPC API (Kubo's ``/api/v0``), spoken over httpx.

Every call is a ``POST`` (Kubo refuses ``GET`` on the RPC API). ``add`` sends the bytes as a
multipart file with the options that make the node's CID the one :func:`cid_of` computes
(``cid-version=1``, ``raw-leaves=true``, ``chunker=size-262144``, ``cid-base=base32``) and reads the
NDJSON answer, one ``{"Name","Hash","Size"}`` object a line. Nothing the node says is trusted:

* the CID ``add`` answers must equal the CID computed locally from the bytes sent;
* the bytes ``cat`` answers must hash to the CID asked for (and are capped at ``max_size``);
* CIDs in any multibase (js-ipfs answers base58btc) are normalised to CIDv1 base32.

Errors follow Kubo's ``{"Message","Code","Type":"error"}`` body and map to
:class:`~minds371.errors.RegistryError` (retryable for transport failures and 502/503/504).
``ipfshttpclient`` is not used: it refuses every daemon since 0.8.0.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from minds371.config import require_network
from minds371.errors import ContentMismatch, RegistryError
from minds371.lifecycle import AsyncResource
from minds371.logging import get_logger
from minds371_registry.content._unixfs import cid_of, normalize_cid

__all__ = ["DEFAULT_API_URL", "KuboContentStore"]

DEFAULT_API_URL = "http://127.0.0.1:5001"
_RETRYABLE_STATUS = frozenset({502, 503, 504})

_log = get_logger("minds371.registry.kubo")


class KuboContentStore(AsyncResource):
    """Content store backed by a Kubo (or API-compatible) IPFS node.

    Args:
        api_url: The node's RPC address (``http://127.0.0.1:5001``); ``/api/v0`` is appended.
        http_client: An httpx client to use (not closed here); one is created when omitted.
        timeout: Seconds per request when this store creates the client.
        max_size: Largest object ``get`` will read, in bytes.

    Raises:
        ConfigurationError: if ``api_url`` is off this machine while network access is disabled.
    """

    def __init__(
        self,
        api_url: str = DEFAULT_API_URL,
        *,
        http_client: httpx.AsyncClient | None = None,
        timeout: float = 30.0,
        max_size: int = 64 * 1024 * 1024,
    ) -> None:
        require_network(api_url, what="the IPFS node")
        self.api_url = api_url.rstrip("/") + "/api/v0"
        self.max_size = max_size
        self._own_client = http_client is None
        self._client = http_client or httpx.AsyncClient(timeout=timeout)

    async def aclose(self) -> None:
        """Close the HTTP client if this store created it."""
        if self._own_client:
            await self._client.aclose()

    async def check(self) -> None:
        """Ask the node for its version: it answers, or this raises ``RegistryError``."""
        await self.version()

    async def version(self) -> str:
        """The node's version string (``/api/v0/version``)."""
        body = await self._json("version")
        version = body.get("Version")
        if not isinstance(version, str):
            raise RegistryError("the IPFS node's version answer has no Version", details=body)
        return version

    async def put(self, data: bytes) -> str:
        """Add ``data`` to the node, pinned; return its CID after checking the node's answer.

        Raises:
            ContentMismatch: if the node's CID is not the one ``data`` has.
            RegistryError: if the node cannot be reached or refuses.
        """
        expected = cid_of(data)
        params = {
            "cid-version": "1",
            "raw-leaves": "true",
            "chunker": "size-262144",
            "cid-base": "base32",
            "pin": "true",
            "progress": "false",
        }
        response = await self._post("add", params=params, files={"file": ("blob", data)})
        lines = [line for line in response.text.splitlines() if line.strip()]
        try:
            entries = [json.loads(line) for line in lines]
            answered = entries[-1]["Hash"]
        except (ValueError, LookupError, TypeError) as exc:
            raise RegistryError(
                "the IPFS node's add answer is not NDJSON with a Hash",
                details={"body": response.text[:500]},
            ) from exc
        cid = normalize_cid(str(answered), path="/Hash")
        if cid != expected:
            raise ContentMismatch(
                f"the IPFS node stored the data as {cid}, but it hashes to {expected}",
                details={"answered": cid, "expected": expected},
            )
        _log.debug("minds371.registry.kubo.added", cid=cid, size=len(data))
        return cid

    async def get(self, cid: str) -> bytes:
        """Fetch ``cid`` from the node (``cat``) and check that the bytes hash to it.

        Raises:
            ContentMismatch: if the bytes do not hash to ``cid``.
            RegistryError: if the node cannot be reached, does not have it, or it is too large.
            ValidationError: if ``cid`` is not a CID.
        """
        cid = normalize_cid(cid)
        data = await self._cat(cid)
        actual = cid_of(data)
        if actual != cid:
            raise ContentMismatch(
                f"the IPFS node answered bytes for {cid} that hash to {actual}",
                details={"cid": cid, "actual": actual},
            )
        return data

    async def pin(self, cid: str) -> None:
        """Pin ``cid`` on the node (``pin/add``) and check that the node says it did."""
        cid = normalize_cid(cid)
        body = await self._json("pin/add", params={"arg": cid})
        pins = body.get("Pins")
        if not isinstance(pins, list) or cid not in {normalize_cid(str(p)) for p in pins}:
            raise RegistryError(f"the IPFS node did not confirm the pin of {cid}", details=body)

    async def _cat(self, cid: str) -> bytes:
        url = f"{self.api_url}/cat"
        try:
            async with self._client.stream("POST", url, params={"arg": cid}) as response:
                if response.status_code != 200:
                    await response.aread()
                    raise _status_error("cat", response)
                chunks: list[bytes] = []
                total = 0
                async for chunk in response.aiter_bytes():
                    total += len(chunk)
                    if total > self.max_size:
                        raise RegistryError(
                            f"{cid} is larger than the {self.max_size}-byte limit",
                            details={"cid": cid, "max_size": self.max_size},
                        )
                    chunks.append(chunk)
        except httpx.HTTPError as exc:
            raise _transport_error("cat", exc, self.api_url) from exc
        return b"".join(chunks)

    async def _json(self, command: str, *, params: dict[str, str] | None = None) -> dict[str, Any]:
        response = await self._post(command, params=params)
        try:
            body = response.json()
        except ValueError as exc:
            raise RegistryError(
                f"the IPFS node's {command} answer is not JSON",
                details={"body": response.text[:500]},
            ) from exc
        if not isinstance(body, dict):
            raise RegistryError(f"the IPFS node's {command} answer is not a JSON object")
        return body

    async def _post(
        self,
        command: str,
        *,
        params: dict[str, str] | None = None,
        files: dict[str, tuple[str, bytes]] | None = None,
    ) -> httpx.Response:
        try:
            response = await self._client.post(
                f"{self.api_url}/{command}", params=params, files=files
            )
        except httpx.HTTPError as exc:
            raise _transport_error(command, exc, self.api_url) from exc
        if response.status_code != 200:
            raise _status_error(command, response)
        return response


def _transport_error(command: str, exc: httpx.HTTPError, api_url: str) -> RegistryError:
    # Named in the error, so never with the credentials a URL may carry.
    node = str(httpx.URL(api_url).copy_with(userinfo=b"")).removesuffix("/api/v0")
    return RegistryError(
        f"the IPFS node at {node} could not be reached for {command}: {type(exc).__name__}: {exc}",
        retryable=True,
        details={"command": command, "node": node},
    )


def _status_error(command: str, response: httpx.Response) -> RegistryError:
    message = response.text[:300]
    try:
        body = response.json()
        if isinstance(body, dict) and isinstance(body.get("Message"), str):
            message = body["Message"]
    except ValueError:
        pass
    return RegistryError(
        f"the IPFS node refused {command} (HTTP {response.status_code}): {message}",
        retryable=response.status_code in _RETRYABLE_STATUS,
        details={"command": command, "status": response.status_code},
    )
