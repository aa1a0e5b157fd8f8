"""The ``minds371 mcp`` sub-command (argument parsing only: the SDK loads when it runs)."""

from __future__ import annotations

import argparse
import ipaddress
import os
from pathlib import Path

from minds371.errors import ConfigurationError

__all__ = ["TOKEN_ENV", "add_mcp_command"]

TOKEN_ENV = "MINDS371_MCP_TOKEN"
"""The environment variable holding the HTTP transport's bearer token."""


def add_mcp_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``minds371 mcp``."""
    mcp = sub.add_parser(
        "mcp",
        help="serve the registered actions as MCP tools (stdio, or HTTP with --http)",
        description=(
            "Serve every registered action as an MCP tool, and the deployments as resources. "
            "Over stdio by default; over streamable HTTP with --http (127.0.0.1 unless --host "
            f"says otherwise, which needs a bearer token in ${TOKEN_ENV} or --token-file)."
        ),
    )
    mcp.add_argument("--http", action="store_true", help="serve streamable HTTP at /mcp")
    mcp.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    mcp.add_argument(
        "--port", type=int, default=8371, help="port to bind; 0 picks a free one (default 8371)"
    )
    mcp.add_argument(
        "--token-file",
        type=Path,
        default=None,
        help=f"file holding the bearer token HTTP clients must send (else ${TOKEN_ENV})",
    )
    mcp.add_argument(
        "--confirm-spend",
        choices=["elicit", "never", "refuse"],
        default="elicit",
        help=(
            "before a tool that spends money: ask the user through the client (elicit, the "
            "default; a client that cannot ask is refused), do not ask (never), or refuse "
            "every such tool (refuse)"
        ),
    )
    mcp.set_defaults(handler=_cmd_mcp)


def bearer_token(token_file: Path | None) -> str | None:
    """The configured bearer token: ``--token-file``, else ``$MINDS371_MCP_TOKEN``, else none.

    Raises:
        ConfigurationError: the file cannot be read or holds no token.
    """
    if token_file is not None:
        try:
            token = token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigurationError(f"--token-file {token_file}: {exc.strerror}") from None
        if not token:
            raise ConfigurationError(f"--token-file {token_file} is empty")
        return token
    return os.environ.get(TOKEN_ENV, "").strip() or None


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


async def _cmd_mcp(args: argparse.Namespace) -> int:
    from minds371.cli import UsageError

    if not args.http and (args.host != "127.0.0.1" or args.token_file is not None):
        raise UsageError("minds371 mcp: --host and --token-file apply to --http only")
    if not 0 <= args.port <= 65535:
        raise UsageError(f"minds371 mcp: --port must be 0-65535, got {args.port}")
    token = bearer_token(args.token_file) if args.http else None
    if args.http and not is_loopback(args.host) and token is None:
        raise UsageError(
            f"minds371 mcp: --host {args.host} is not a loopback address: set a bearer token in "
            f"${TOKEN_ENV} or --token-file first (refused to serve without one)"
        )
    try:
        from minds371.adapters.mcp._serve import serve
    except ImportError as exc:
        raise ConfigurationError(
            f'minds371 mcp needs the MCP SDK: pip install "minds371[mcp]" ({exc})'
        ) from None
    return await serve(args, token)
