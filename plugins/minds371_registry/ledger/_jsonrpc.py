"""A thin Ethereum JSON-RPC 2.0 client over httpx.

Transport failures become :class:`~minds371.errors.LedgerError` (retryable); an error object in
a JSON-RPC answer becomes :class:`RpcFault`, which keeps ``code``, ``message`` and ``data`` (the
revert data of a failed call) for the caller to interpret.
"""

from __future__ import annotations

import itertools
from typing import Any

import httpx

from minds371.config import require_network
from minds371.errors import LedgerError

__all__ = ["JsonRpcClient", "RpcFault"]


class RpcFault(Exception):
    """A JSON-RPC error object: the node understood the call and refused it.

    Args:
        code: The JSON-RPC error code (``3`` for a revert on most nodes).
        message: The node's message.
        data: The error's ``data``: revert data as ``0x``-hex, when the node sends it.
    """

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(f"JSON-RPC error {code}: {message}")
        self.code = code
        self.message = message
        self.data = data

    @property
    def revert_data(self) -> str | None:
        """The revert data, if the node sent it as ``0x``-hex."""
        data = self.data
        if isinstance(data, dict):
            data = data.get("data")
        return data if isinstance(data, str) and data.startswith("0x") else None


class JsonRpcClient:
    """Calls methods of one JSON-RPC endpoint.

    Args:
        url: The endpoint (``http://127.0.0.1:8545``).
        http_client: An httpx client to use (not closed here); one is created when omitted.
        timeout: Seconds per request when this client creates its own httpx client.

    Raises:
        ConfigurationError: if ``url`` is off this machine while network access is disabled.
    """

    def __init__(
        self, url: str, *, http_client: httpx.AsyncClient | None = None, timeout: float = 30.0
    ) -> None:
        require_network(url, what="the EVM JSON-RPC endpoint")
        self.url = url
        self._own_client = http_client is None
        self._client = http_client or httpx.AsyncClient(timeout=timeout)
        self._ids = itertools.count(1)

    async def aclose(self) -> None:
        """Close the httpx client if this client created it."""
        if self._own_client:
            await self._client.aclose()

    async def call(self, method: str, *params: Any) -> Any:
        """Call ``method`` with positional ``params``; return its ``result``.

        Raises:
            RpcFault: if the node answers with a JSON-RPC error object.
            LedgerError: if the node cannot be reached or answers something that is not JSON-RPC.
        """
        request = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params}
        try:
            response = await self._client.post(self.url, json=request)
        except httpx.HTTPError as exc:
            raise LedgerError(
                f"the EVM node at {self.url} could not be reached for {method}: "
                f"{type(exc).__name__}: {exc}",
                retryable=True,
                details={"method": method},
            ) from exc
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or ("result" not in body and "error" not in body):
            raise LedgerError(
                f"the EVM node answered {method} with HTTP {response.status_code} and no "
                "JSON-RPC body",
                retryable=response.status_code >= 500,
                details={"method": method, "status": response.status_code},
            )
        error = body.get("error")
        if error is not None:
            if not isinstance(error, dict):
                raise RpcFault(-32603, str(error))
            raise RpcFault(
                int(error.get("code", -32603)), str(error.get("message", "")), error.get("data")
            )
        return body["result"]
