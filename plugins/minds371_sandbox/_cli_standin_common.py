"""What both CLI stand-ins share: flags, the node client, output, SDL loading, errors."""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import httpx
import yaml

from minds371.errors import ValidationError

if TYPE_CHECKING:
    from minds371_sandbox._identity import Identity
    from minds371_sandbox._manifests import BuiltSdl

__all__ = [
    "Node",
    "StandinError",
    "StandinParser",
    "add_common",
    "emit",
    "key",
    "load_sdl",
]


class StandinError(Exception):
    """A failure the stand-in reports as ``Error: <message>`` on stderr with exit code 1."""


class StandinParser(argparse.ArgumentParser):
    """argparse that reports usage errors like cobra (``Error: …``) and exits 1."""

    def error(self, message: str) -> NoReturn:
        print(f"Error: {message}", file=sys.stderr)
        print(f"Run '{self.prog} --help' for usage.", file=sys.stderr)
        raise SystemExit(1)


def add_common(parser: argparse.ArgumentParser, *, signer: bool = False) -> None:
    """The global flags of the real binaries that the stand-ins accept (most are ignored)."""
    parser.add_argument("--node", default=os.environ.get("AKASH_NODE", ""), help="sandbox base URL")
    parser.add_argument("-o", "--output", default="text", choices=["text", "json"])
    parser.add_argument("--chain-id", default=os.environ.get("AKASH_CHAIN_ID", ""))
    parser.add_argument("--keyring-backend", default="test")
    parser.add_argument("--home", default="")
    if signer:
        parser.add_argument("--from", dest="from_", default=os.environ.get("AKASH_FROM", ""))
        parser.add_argument("-y", "--yes", action="store_true")
        parser.add_argument("--gas", default="auto")
        parser.add_argument("--gas-adjustment", default="1.5")
        parser.add_argument("--gas-prices", default="")
        parser.add_argument("--fees", default="")
        parser.add_argument("--broadcast-mode", default="sync")
        parser.add_argument("--note", default="")


def key(args: argparse.Namespace) -> Identity:
    """The signing key named by ``--from``."""
    name = getattr(args, "from_", "")
    if not name:
        raise StandinError('required flag(s) "from" not set')
    if name.startswith("akash1"):
        raise StandinError(f"{name} is not a key name: the sandbox derives keys from names")
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
        self.url = url.rstrip("/")

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

    def broadcast(self, identity: Identity, messages: list[dict[str, Any]]) -> dict[str, Any]:
        """Broadcast a tx signed (in name) by ``identity``; returns the ``tx_response``."""
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
            "mode": "BROADCAST_MODE_SYNC",
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
