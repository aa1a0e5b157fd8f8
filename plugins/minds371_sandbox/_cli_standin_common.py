"""What both CLI stand-ins share: flag sets, keys, the node client, output, SDL loading, errors.

The flag sets are the real ones (chain-sdk ``go/cli/flags/flags.go``: ``AddTxFlagsToCmd``,
``AddQueryFlagsToCmd``, ``AddPaginationFlagsToCmd``, ``AddKeyringFlags``; ``go/cli/root.go``
and cometbft ``libs/cli`` for the root's persistent flags).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import yaml

from minds371.errors import ValidationError
from minds371_sandbox._cli_standin_cobra import Flag

if TYPE_CHECKING:
    from minds371_sandbox._identity import Identity
    from minds371_sandbox._manifests import BuiltSdl

__all__ = [
    "SANDBOX_KEYRING",
    "Node",
    "StandinError",
    "emit",
    "home",
    "key",
    "load_sdl",
    "page_params",
    "pagination_flags",
    "print_indented",
    "query_flags",
    "root_persistent_flags",
    "tx_flags",
]

#: The keyring backend that holds the sandbox's keys (every key name is one).
SANDBOX_KEYRING = "test"


class StandinError(Exception):
    """A failure the stand-in reports as ``Error: <message>`` on stderr with exit code 1."""


def root_persistent_flags() -> list[Flag]:
    """Persistent flags of both roots.

    ``--home`` and ``--trace`` (cometbft ``libs/cli`` ``PrepareBaseCmd``) and the log flags
    (chain-sdk ``go/cli/root.go`` ``ExecuteWithCtx``).
    """
    return [
        Flag("home", default=os.path.expandvars("$HOME/.akash")),
        Flag("trace", "bool", False),
        Flag("log_level", default="info"),
        Flag("log_format", default="plain"),
        Flag("log_color", "bool", False),
        Flag("log_timestamp", default=""),
    ]


def keyring_flags() -> list[Flag]:
    """``AddKeyringFlags``: the backend defaults to ``os``."""
    return [Flag("keyring-dir"), Flag("keyring-backend", default="os")]


def tx_flags() -> list[Flag]:
    """``AddTxFlagsToCmd``."""
    return [
        Flag("output", default="json", short="o"),
        Flag("from"),
        Flag("account-number", "uint64", 0, short="a"),
        Flag("sequence", "uint64", 0, short="s"),
        Flag("note"),
        Flag("fees"),
        Flag("gas-prices", default="0.025uakt"),
        Flag("node", default="tcp://localhost:26657"),
        Flag("ledger", "bool", False),
        Flag("gas-adjustment", "float64", 1.5),
        Flag("broadcast-mode", default="sync", short="b"),
        Flag("dry-run", "bool", False),
        Flag("generate-only", "bool", False),
        Flag("offline", "bool", False),
        Flag("yes", "bool", False, short="y"),
        Flag("sign-mode", default="direct"),
        Flag("timeout-height", "uint64", 0),
        Flag("timeout-duration", "duration", "0s"),
        Flag("unordered", "bool", False),
        Flag("fee-payer"),
        Flag("fee-granter"),
        Flag("tip"),
        Flag("aux", "bool", False),
        Flag("chain-id"),
        Flag("gas", default="auto"),
        *keyring_flags(),
    ]


def query_flags() -> list[Flag]:
    """``AddQueryFlagsToCmd``: no keyring, no ``--from``; ``-o`` defaults to text."""
    return [
        Flag("node", default="tcp://localhost:26657"),
        Flag("grpc-addr"),
        Flag("grpc-insecure", "bool", False),
        Flag("height", "int64", 0),
        Flag("output", default="text", short="o"),
    ]


def pagination_flags() -> list[Flag]:
    """``AddPaginationFlagsToCmd``: 100 items a page unless told otherwise."""
    return [
        Flag("page", "uint64", 1),
        Flag("page-key"),
        Flag("offset", "uint64", 0),
        Flag("limit", "uint64", 100),
        Flag("count-total", "bool", False),
        Flag("reverse", "bool", False),
    ]


def page_params(args: argparse.Namespace) -> dict[str, Any]:
    """The LCD ``pagination.*`` parameters of the pagination flags (``ReadPageRequest``)."""
    page, offset, limit = int(args.page), int(args.offset), int(args.limit)
    if page > 1 and offset > 0:
        raise StandinError("page and offset cannot be used together: invalid request")
    if page > 1:
        offset = (page - 1) * limit
    if args.page_key:
        try:
            base64.b64decode(args.page_key, validate=True)
        except ValueError as exc:
            raise StandinError("invalid pagination key: invalid request") from exc
    return {
        "pagination.key": args.page_key,
        "pagination.offset": str(offset) if offset else "",
        "pagination.limit": str(limit),
        "pagination.count_total": "true" if args.count_total else "",
        "pagination.reverse": "true" if args.reverse else "",
    }


def home(args: argparse.Namespace) -> Path:
    """The akash home directory (``--home``, ``AKASH_HOME``)."""
    return Path(str(getattr(args, "home", "") or os.path.expandvars("$HOME/.akash")))


def print_indented(document: Any) -> None:
    """As chain-sdk ``go/cli/utils.go`` ``PrintJSON``: JSON indented by two spaces."""
    print(json.dumps(document, indent=2), flush=True)


def key(args: argparse.Namespace) -> Identity:
    """The signing key named by ``--from``, from the keyring ``--keyring-backend`` names.

    The sandbox's keys live in the ``test`` backend; the real default is ``os``
    (``DefaultKeyringBackend``), where a sandbox key is not found.
    """
    name = getattr(args, "from_", "")
    if not name:
        raise StandinError('required flag(s) "from" not set')
    if name.startswith("akash1"):
        raise StandinError(f"{name} is not a key name: the sandbox derives keys from names")
    backend = getattr(args, "keyring_backend", SANDBOX_KEYRING)
    if backend != SANDBOX_KEYRING:
        raise StandinError(f"{name}.info: key not found")
    # Imported here: every run is a process start, and queries need no key (eth-keys is slow
    # to import).
    from minds371_sandbox._identity import identity_for_key_name

    return identity_for_key_name(name)


def emit(args: argparse.Namespace, document: Any) -> None:
    """Print a result as JSON (``-o json``) or YAML (text, the real default)."""
    if args.output == "json":
        print(json.dumps(document))
    else:
        print(yaml.safe_dump(document, sort_keys=False).rstrip())


def load_sdl(path: str) -> BuiltSdl:
    """Read and build an SDL file as the real CLI does (no Console rewrites)."""
    from minds371_sandbox._manifests import build_from_sdl  # only SDL commands

    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise StandinError(f"open {path}: {exc.strerror or exc}") from exc
    try:
        return build_from_sdl(text, console=False)
    except ValidationError as exc:
        raise StandinError("; ".join(str(i) for i in exc.issues) or exc.message) from exc


class Node:
    """The sandbox's chain routes at ``--node``."""

    def __init__(self, url: str) -> None:
        if not url:
            raise StandinError("no node: pass --node http://127.0.0.1:PORT or set AKASH_NODE")
        # The real default, tcp://localhost:26657, is the same node over HTTP.
        self.url = url.replace("tcp://", "http://", 1).rstrip("/")

    def _client(self) -> httpx.Client:
        # One short-lived client per call: a command makes only a few.
        return httpx.Client(base_url=self.url, timeout=30)

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """GET an LCD route; a chain error becomes :class:`StandinError`."""
        with self._client() as http:
            response = http.get(
                path, params={k: v for k, v in (params or {}).items() if v not in (None, "")}
            )
        body = _json(response)
        if response.status_code != 200:
            message = body.get("message") if isinstance(body, dict) else response.text
            raise StandinError(f"rpc error: code = NotFound desc = {message}")
        return body

    def height(self) -> int:
        """The latest block height."""
        return int(
            self.get("/cosmos/base/tendermint/v1beta1/blocks/latest")["block"]["header"]["height"]
        )

    def broadcast(
        self, identity: Identity, messages: list[dict[str, Any]], *, mode: str = "block"
    ) -> dict[str, Any]:
        """Broadcast a tx signed (in name) by ``identity``; returns the ``tx_response``.

        ``mode`` ``block`` waits for the tx's result; ``sync`` and ``async`` return once the tx
        is in the mempool (it lands with the next block).
        """
        body = {
            "tx": {
                "body": {"messages": messages, "memo": ""},
                "auth_info": {
                    "signer_infos": [
                        {
                            "public_key": {
                                "@type": "/cosmos.crypto.secp256k1.PubKey",
                                "key": base64.b64encode(identity.public_key).decode(),
                            }
                        }
                    ]
                },
                "signatures": [],
            },
            "mode": "BROADCAST_MODE_BLOCK" if mode == "block" else "BROADCAST_MODE_SYNC",
        }
        with self._client() as http:
            response = http.post("/cosmos/tx/v1beta1/txs", json=body)
        data = _json(response)
        if response.status_code != 200 or not isinstance(data, dict) or "tx_response" not in data:
            raise StandinError(
                f"broadcast failed: HTTP {response.status_code}: {response.text[:500]}"
            )
        result: dict[str, Any] = data["tx_response"]
        return result

    def provider_host(self, address: str) -> str:
        """A provider's ``host_uri`` from the chain."""
        return str(self.get(f"/akash/provider/v1beta4/providers/{address}")["provider"]["host_uri"])


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return {"message": response.text}
